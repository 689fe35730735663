"""Evaluate app-head variants on fixed label orders; accuracy on a validation part of the pool."""
import sys, time, pickle, json
import numpy as np, torch, torch.nn.functional as F
sys.path.insert(0, "/work/main")
torch.set_num_threads(int(__import__("os").environ.get("NT", "1")))
from aldesk.ml.engine import PoolModel
from aldesk.ml import heads
from aldesk.ml.features import knn_graph

def fit_soft(z, t, K, w, l2=1.0, max_iter=100, init=None, balance=True):
    """t: [n,K] targets (rows sum to 1), w: [n] weights."""
    counts = (t * w[:, None]).sum(0)
    active = counts > 0
    bal = torch.where(active, counts.sum() / (active.sum() * counts.clamp_min(1e-12)), 0.0) if balance else active.float()
    wi = w * (t * bal).sum(1)
    total = wi.sum()
    W = torch.zeros((z.shape[1], K)); b = torch.zeros(K)
    if init is not None:
        W.copy_(init.weight); b.copy_(torch.where(torch.isfinite(init.bias), init.bias, torch.zeros_like(init.bias)))
    W.requires_grad_(True); b.requires_grad_(True)
    mask = (~active).float() * -1e4
    opt = torch.optim.LBFGS([W, b], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-6, tolerance_change=1e-9, history_size=20)
    def closure():
        opt.zero_grad()
        lp = torch.log_softmax(z @ W + b + mask, 1)
        loss = -((t * lp).sum(1) * wi).sum() / total + 0.5 * l2 * (W * W).sum() / total
        loss.backward(); return loss
    opt.step(closure)
    return heads.LinearHead(W.detach(), b.detach(), active)

def propagate(pool, G, labeled, y, K, k, alpha, power, iters=20):
    idx, sims = G[0][:, :k], G[1][:, :k]
    n = idx.shape[0]
    rows = torch.arange(n).repeat_interleave(k); cols = idx.reshape(-1)
    vals = sims.reshape(-1).clamp_min(0) ** power
    W = torch.sparse_coo_tensor(torch.stack([torch.cat([rows, cols]), torch.cat([cols, rows])]), torch.cat([vals, vals]), (n, n)).coalesce()
    deg = torch.zeros(n).index_add_(0, W.indices()[0], W.values()).clamp_min(1e-12).rsqrt()
    S = torch.sparse_coo_tensor(W.indices(), W.values() * deg[W.indices()[0]] * deg[W.indices()[1]], (n, n)).coalesce().to_sparse_csr()
    Y = torch.zeros((n, K)); pc = torch.bincount(torch.from_numpy(y), minlength=K).float().clamp_min(1)
    Y[torch.from_numpy(labeled), torch.from_numpy(y)] = 1.0 / pc[torch.from_numpy(y)]
    f = Y.clone()
    for _ in range(iters):
        f = alpha * (S @ f) + (1 - alpha) * Y
    tot = f.sum(1, keepdim=True)
    return torch.where(tot > 0, f / tot.clamp_min(1e-30), torch.zeros_like(f))

def onehot(y, K):
    return F.one_hot(torch.from_numpy(y).long(), K).float()

def variant(pool, G, labeled, y, K, c):
    z = pool.z; zl = z[torch.from_numpy(labeled)]
    l2 = c.get("l2", 1.0)
    if c["mode"] == "plain":
        return heads.fit_linear(zl, torch.from_numpy(y).long(), K, l2=l2)
    if c["mode"] == "current":
        nodes = np.arange(pool.size); spread = propagate(pool, G, labeled, y, K, c.get("k", 10), c.get("alpha", .9), c.get("power", 3))
        unl = np.ones(pool.size, bool); unl[labeled] = False
        return heads.fit_semi_supervised(zl, torch.from_numpy(y).long(), z[torch.from_numpy(unl)], spread[torch.from_numpy(unl)], K,
                                         pseudo_weight=c.get("pw", .5), max_pseudo=c.get("maxp", 2000))
    unl = np.ones(pool.size, bool); unl[labeled] = False
    ut = torch.from_numpy(unl)
    lp = propagate(pool, G, labeled, y, K, c.get("k", 10), c.get("alpha", .9), c.get("power", 3))[ut]
    head = None
    q = None
    if c.get("agree"):
        head = heads.fit_linear(zl, torch.from_numpy(y).long(), K, l2=l2)
    for r in range(c.get("rounds", 1)):
        p = lp
        if head is not None and c.get("agree"):
            q = torch.softmax(head.logits(z[ut]) / c.get("qT", 1.0), 1)
            p = p * q ** c.get("qpow", 1.0); p = p / p.sum(1, keepdim=True).clamp_min(1e-30)
        conf, guess = p.max(1)
        labeled_classes = torch.zeros(K, dtype=torch.bool); labeled_classes[torch.from_numpy(y)] = True
        if c["mode"] == "soft":
            T = c.get("sharpen", 1.0)
            pt = p ** (1 / T); pt = pt / pt.sum(1, keepdim=True).clamp_min(1e-30)
            keep = (conf >= c.get("minc", 0.0)) & labeled_classes[guess]
            tgt = torch.cat([onehot(y, K), pt[keep]])
            # total pseudo weight = lam * n_labeled (spread over kept), or per-item weight
            nk = int(keep.sum())
            if "lam" in c:
                wu = torch.full((nk,), c["lam"] * len(y) / max(nk, 1))
            else:
                wu = torch.full((nk,), c.get("pw", .5))
            if c.get("confw", True):
                wu = wu * conf[keep]
            w = torch.cat([torch.ones(len(y)), wu])
            head = fit_soft(torch.cat([zl, z[ut][keep]]), tgt, K, w, l2=l2, max_iter=c.get("it", 50), init=head if c.get("warm") else None)
        else:  # top: hard pseudo-labels, top-N per class
            ok = (conf >= c.get("minc", .5)) & labeled_classes[guess]
            chosen = heads._top_per_class(conf, guess, ok, K, c.get("maxp", 2000))
            zz = torch.cat([zl, z[ut][chosen]]); yy = torch.cat([torch.from_numpy(y).long(), guess[chosen]])
            ww = torch.cat([torch.ones(len(y)), c.get("pw", .5) * (conf[chosen] if c.get("confw", True) else torch.ones(len(chosen)))])
            head = heads.fit_linear(zz, yy, K, sample_weight=ww, l2=l2, max_iter=c.get("it", 50))
    return head

def main():
    ds = sys.argv[1]; cfgs = json.loads(sys.argv[2]); cps = [int(x) for x in sys.argv[3].split(",")]
    f = {"digits": "digits-efficientnet-lite0-9b1568d08485-None-None-0.npz",
         "fashion": "fashion-mnist-efficientnet-lite0-9b1568d08485-10000-2000-0.npz"}[ds]
    d = np.load("/root/.cache/aldesk/simulate/" + f)
    s = pickle.load(open(f"/tmp/le/seq_{ds}.pkl", "rb"))
    xp, yp = d["xp"], d["yp"]; sub, val = s["sub"], s["val"]
    pool = PoolModel.build(xp[sub]); zv = pool.whitening.apply(xp[val]); yv = yp[val]; ys = yp[sub]
    G = knn_graph(pool.z, k=40)
    for name, c in cfgs.items():
        t = time.time(); res = []
        for n in cps:
            accs = []
            for order in s["orders"]:
                lab = order[:n]
                h = variant(pool, G, lab, ys[lab], 10, c)
                accs.append(float((h.logits(zv).argmax(1).numpy() == yv).mean()))
            res.append(np.mean(accs))
        print(f"{ds} {name:28s} " + " ".join(f"{n}:{a:.4f}" for n, a in zip(cps, res)) + f"  mean {np.mean(res):.4f} ({time.time()-t:.0f}s)", flush=True)
main()
