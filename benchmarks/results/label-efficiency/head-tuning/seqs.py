"""Label orders from default strategy + plain head on a sub-pool (80%); val = other 20% of pool."""
import sys, time, pickle
import numpy as np, torch
sys.path.insert(0, "/work/main")
torch.set_num_threads(1)
from aldesk.ml.engine import PoolModel
from aldesk.ml.simulate import run_one
ds, budget, seeds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
f = {"digits": "digits-efficientnet-lite0-9b1568d08485-None-None-0.npz",
     "fashion": "fashion-mnist-efficientnet-lite0-9b1568d08485-10000-2000-0.npz"}[ds]
d = np.load("/root/.cache/aldesk/simulate/" + f)
xp, yp = d["xp"], d["yp"]
rng = np.random.default_rng(123)
perm = rng.permutation(len(yp)); nv = len(yp) // 5
val, sub = perm[:nv], np.sort(perm[nv:])
pool = PoolModel.build(xp[sub])
orders = []
import aldesk.ml.simulate as S
for seed in range(seeds):
    # capture the labeled order by wrapping train_head
    seen = []
    orig = S.train_head
    def th(pool_, idx, y, n, **kw):
        seen.append(idx.copy()); return orig(pool_, idx, y, n, **kw)
    S.train_head = th
    for _ in run_one(pool, yp[sub], pool.whitening.apply(xp[val]), yp[val], 10, "default", seed, budget, 10, "plain"):
        pass
    S.train_head = orig
    orders.append(seen[-1])
    print(ds, seed, len(seen[-1]), flush=True)
pickle.dump(dict(sub=sub, val=val, orders=orders), open(f"/tmp/le/seq_{ds}.pkl", "wb"))
