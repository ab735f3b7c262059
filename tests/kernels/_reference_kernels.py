"""The former InVEST-chain kernels of ``qingshan.kernels.routing`` (before the issue 11 speed-ups),
kept verbatim as references for ``test_kernel_speedups.py``."""

# ruff: noqa
from __future__ import annotations

import heapq

import numpy as np
from numba import njit

from qingshan.kernels.routing import _PG_DC, _PG_DR, _SQRT2, _SQRT2_INV, _grow



@njit(cache=True)
def _fill_pits_kernel(z: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Priority-flood fill without epsilon: every cell raised to its lowest spill height.

    Seeds are cells on the grid edge or next to nodata (pygeoprocessing's drains); the result
    equals ``fill_pits`` (closed depressions raised flat to their pour point). Cells inside a
    depression go through a FIFO queue instead of the heap (Barnes et al. 2014, Computers &
    Geosciences 62: 117-127, "Priority-Flood+"), which gives the same surface faster.
    """
    nr, nc = z.shape
    out = z.copy()
    seen = ~valid
    heap = [(0.0, 0)]
    heap.pop()
    pit = np.empty(nr * nc, dtype=np.int64)
    for i in range(nr):
        for j in range(nc):
            if not valid[i, j]:
                continue
            edge = False
            for k in range(8):
                ni, nj = i + _PG_DR[k], j + _PG_DC[k]
                if ni < 0 or nj < 0 or ni >= nr or nj >= nc or not valid[ni, nj]:
                    edge = True
                    break
            if edge:
                seen[i, j] = True
                heapq.heappush(heap, (out[i, j], i * nc + j))
    head = tail = 0
    while len(heap) > 0 or head < tail:
        if head < tail:
            c = pit[head]
            head += 1
            h = out[c // nc, c % nc]
        else:
            h, c = heapq.heappop(heap)
        i, j = c // nc, c % nc
        for k in range(8):
            ni, nj = i + _PG_DR[k], j + _PG_DC[k]
            if ni < 0 or nj < 0 or ni >= nr or nj >= nc or seen[ni, nj]:
                continue
            seen[ni, nj] = True
            if out[ni, nj] <= h:
                out[ni, nj] = h
                pit[tail] = ni * nc + nj
                tail += 1
            else:
                heapq.heappush(heap, (out[ni, nj], ni * nc + nj))
        if head == tail:
            head = tail = 0
    return out



@njit(cache=True)
def _pair(e: float, v1: float, ok1: bool, v2: float, ok2: bool, vc: float, okc: bool):
    """One outer row/column of the 1-2-1 stencil with pygeoprocessing's fallbacks.

    ``v1``/``v2`` are the two corner cells, ``vc`` the middle cell of that row; returns
    (difference, weight).
    """
    if ok1 and ok2:
        return v1 - v2, 2
    if ok1 and okc:
        return v1 - vc, 1
    if okc and ok2:
        return vc - v2, 1
    if ok1:
        return (v1 - e) * 2**0.5, 1
    if ok2:
        return (e - v2) * 2**0.5, 1
    return 0.0, 0


@njit(cache=True)
def _slope_invest_kernel(z, valid, dx, dy):
    nr, nc = z.shape
    out = np.full((nr, nc), np.nan)
    for r in range(nr):
        for s in range(nc):
            if not valid[r, s]:
                continue
            v = np.zeros((3, 3))
            ok = np.zeros((3, 3), dtype=np.bool_)
            for a in range(3):
                for b in range(3):
                    rr, ss = r + a - 1, s + b - 1
                    if 0 <= rr < nr and 0 <= ss < nc and valid[rr, ss]:
                        v[a, b] = z[rr, ss]
                        ok[a, b] = True
            e = z[r, s]
            # x: rows (a,b,c), (d,e,f), (g,h,i) — left minus right
            t1, w1 = _pair(e, v[0, 0], ok[0, 0], v[0, 2], ok[0, 2], v[0, 1], ok[0, 1])
            if ok[1, 0] and ok[1, 2]:
                t2, w2 = 2.0 * (v[1, 0] - v[1, 2]), 4
            elif ok[1, 0]:
                t2, w2 = 2.0 * (v[1, 0] - e), 2
            elif ok[1, 2]:
                t2, w2 = 2.0 * (e - v[1, 2]), 2
            else:
                t2, w2 = 0.0, 0
            t3, w3 = _pair(e, v[2, 0], ok[2, 0], v[2, 2], ok[2, 2], v[2, 1], ok[2, 1])
            wx = w1 + w2 + w3
            dzdx = (t1 + t2 + t3) / (wx * dx[r]) if wx != 0 else 0.0
            # y: columns (a,d,g), (b,e,h), (c,f,i) — top minus bottom
            u1, q1 = _pair(e, v[0, 0], ok[0, 0], v[2, 0], ok[2, 0], v[1, 0], ok[1, 0])
            if ok[0, 1] and ok[2, 1]:
                u2, q2 = 2.0 * (v[0, 1] - v[2, 1]), 4
            elif ok[0, 1]:
                u2, q2 = 2.0 * (v[0, 1] - e), 2
            elif ok[2, 1]:
                u2, q2 = 2.0 * (e - v[2, 1]), 2
            else:
                u2, q2 = 0.0, 0
            u3, q3 = _pair(e, v[0, 2], ok[0, 2], v[2, 2], ok[2, 2], v[1, 2], ok[1, 2])
            wy = q1 + q2 + q3
            dzdy = (u1 + u2 + u3) / (wy * dy[r]) if wy != 0 else 0.0
            out[r, s] = 100.0 * np.sqrt(dzdx * dzdx + dzdy * dzdy)
    return out



@njit(cache=True)
def _d8_invest_kernel(z, valid, block, r0, c0, dist0):
    """pygeoprocessing ``flow_dir_d8`` (routing.pyx:675-1043); −1 = no direction.

    ``(r0, c0)`` is the grid position of ``z[0, 0]`` (≥ −1): the scan visits blocks aligned to
    the whole grid, so a window gives the same plateau seeds as the whole grid (tiled routing);
    ``dist0`` is the initial plateau distance (pygeoprocessing: the grid's cell count).
    """
    nr, nc = z.shape
    fdir = np.full((nr, nc), -1, dtype=np.int8)
    flat = np.zeros((nr, nc), dtype=np.bool_)
    dist = np.full((nr, nc), dist0)
    q = np.empty(1024, dtype=np.int64)
    drains = np.empty(1024, dtype=np.int64)
    nd_cells = np.empty(1024, dtype=np.int64)
    nd_dirs = np.empty(1024, dtype=np.int64)
    for gbi in range((max(r0, 0) // block) * block, r0 + nr, block):
        for gbj in range((max(c0, 0) // block) * block, c0 + nc, block):
            for r in range(max(gbi - r0, 0), min(gbi + block - r0, nr)):
                for s in range(max(gbj - c0, 0), min(gbj + block - c0, nc)):
                    if not valid[r, s] or fdir[r, s] >= 0:
                        continue
                    root = z[r, s]
                    best, best_k = 0.0, -1
                    for k in range(8):
                        rr, ss = r + _PG_DR[k], s + _PG_DC[k]
                        if rr < 0 or ss < 0 or rr >= nr or ss >= nc or not valid[rr, ss]:
                            continue
                        sl = root - z[rr, ss]
                        if k & 1:
                            sl *= _SQRT2_INV
                        if sl > best:
                            best, best_k = sl, k
                    if best_k >= 0:
                        fdir[r, s] = best_k
                        continue
                    # plateau: BFS over equal-height cells collecting drains
                    head, tail = 0, 1
                    q[0] = r * nc + s
                    flat[r, s] = True
                    nd_n, dr_n = 0, 0
                    while head < tail:
                        c = q[head]
                        head += 1
                        cr, cs = c // nc, c % nc
                        best, best_k, diag_nd = 0.0, -1, 1
                        for k in range(8):
                            rr, ss = cr + _PG_DR[k], cs + _PG_DC[k]
                            if rr < 0 or ss < 0 or rr >= nr or ss >= nc or not valid[rr, ss]:
                                if diag_nd and best == 0.0:
                                    best_k = k
                                    diag_nd = k & 1
                                continue
                            sl = root - z[rr, ss]
                            if sl < 0:
                                continue
                            if sl == 0.0:
                                if not flat[rr, ss]:
                                    q = _grow(q, tail)
                                    q[tail] = rr * nc + ss
                                    tail += 1
                                    flat[rr, ss] = True
                                continue
                            if k & 1:
                                sl *= _SQRT2_INV
                            if sl > best:
                                best, best_k = sl, k
                        if best_k >= 0:
                            if best > 0.0:
                                fdir[cr, cs] = best_k
                                dist[cr, cs] = 0.0
                                drains = _grow(drains, dr_n)
                                drains[dr_n] = c
                                dr_n += 1
                            else:
                                nd_cells = _grow(nd_cells, nd_n)
                                nd_dirs = _grow(nd_dirs, nd_n)
                                nd_cells[nd_n] = c
                                nd_dirs[nd_n] = best_k
                                nd_n += 1
                    if dr_n == 0:
                        for m in range(nd_n):
                            c = nd_cells[m]
                            fdir[c // nc, c % nc] = nd_dirs[m]
                            dist[c // nc, c % nc] = 0.0
                            drains = _grow(drains, dr_n)
                            drains[dr_n] = c
                            dr_n += 1
                    # FIFO relaxation from the drains over the plateau
                    head = 0
                    while head < dr_n:
                        c = drains[head]
                        head += 1
                        cr, cs = c // nc, c % nc
                        d0 = dist[cr, cs]
                        for k in range(8):
                            rr, ss = cr + _PG_DR[k], cs + _PG_DC[k]
                            if rr < 0 or ss < 0 or rr >= nr or ss >= nc:
                                continue
                            nd = d0 + (_SQRT2 if k & 1 else 1.0)
                            if valid[rr, ss] and z[rr, ss] == root and dist[rr, ss] > nd:
                                fdir[rr, ss] = (k + 4) % 8
                                dist[rr, ss] = nd
                                drains = _grow(drains, dr_n)
                                drains[dr_n] = rr * nc + ss
                                dr_n += 1
    return fdir



@njit(cache=True)
def _accumulate_d8_kernel(fdir, valid):
    """D8 ``FA_i = 1 + Σ_upstream FA_j`` in topological order."""
    nr, nc = valid.shape
    indeg = np.zeros((nr, nc), dtype=np.int32)
    for r in range(nr):
        for s in range(nc):
            k = fdir[r, s]
            if valid[r, s] and k >= 0:
                rr, ss = r + _PG_DR[k], s + _PG_DC[k]
                if 0 <= rr < nr and 0 <= ss < nc and valid[rr, ss]:
                    indeg[rr, ss] += 1
    acc = np.where(valid, 1.0, 0.0)
    queue = np.empty(nr * nc, dtype=np.int64)
    tail = 0
    for r in range(nr):
        for s in range(nc):
            if valid[r, s] and indeg[r, s] == 0:
                queue[tail] = r * nc + s
                tail += 1
    head = 0
    while head < tail:
        c = queue[head]
        head += 1
        r, s = c // nc, c % nc
        k = fdir[r, s]
        if k < 0:
            continue
        rr, ss = r + _PG_DR[k], s + _PG_DC[k]
        if 0 <= rr < nr and 0 <= ss < nc and valid[rr, ss]:
            acc[rr, ss] += acc[r, s]
            indeg[rr, ss] -= 1
            if indeg[rr, ss] == 0:
                queue[tail] = rr * nc + ss
                tail += 1
    return acc, tail



@njit(cache=True)
def _accumulate_kernel(w, valid):
    """MFD ``FA_i = 1 + Σ_j FA_j · w_ji / Σ_k w_jk`` in topological order."""
    nr, nc = valid.shape
    indeg = np.zeros((nr, nc), dtype=np.int64)
    tot = np.zeros((nr, nc))
    for r in range(nr):
        for s in range(nc):
            if not valid[r, s]:
                continue
            for k in range(8):
                if w[r, s, k] == 0:
                    continue
                tot[r, s] += w[r, s, k]
                rr, ss = r + _PG_DR[k], s + _PG_DC[k]
                if 0 <= rr < nr and 0 <= ss < nc and valid[rr, ss]:
                    indeg[rr, ss] += 1
    acc = np.where(valid, 1.0, 0.0)
    queue = np.empty(nr * nc, dtype=np.int64)
    tail = 0
    for r in range(nr):
        for s in range(nc):
            if valid[r, s] and indeg[r, s] == 0:
                queue[tail] = r * nc + s
                tail += 1
    head = 0
    while head < tail:
        c = queue[head]
        head += 1
        r, s = c // nc, c % nc
        for k in range(8):
            if w[r, s, k] == 0:
                continue
            rr, ss = r + _PG_DR[k], s + _PG_DC[k]
            if 0 <= rr < nr and 0 <= ss < nc and valid[rr, ss]:
                acc[rr, ss] += acc[r, s] * w[r, s, k] / tot[r, s]
                indeg[rr, ss] -= 1
                if indeg[rr, ss] == 0:
                    queue[tail] = rr * nc + ss
                    tail += 1
    return acc, tail


@njit(cache=True)
def _mfd_weights_kernel(z, valid, dist_nodata):
    """pygeoprocessing ``flow_dir_mfd`` (routing.pyx:1363-1858): 4-bit weights per neighbour.

    ``dist_nodata``: initial plateau distance and its "unset" mark (the grid's cell count).
    """
    nr, nc = z.shape
    w = np.zeros((nr, nc, 8), dtype=np.uint8)
    has = np.zeros((nr, nc), dtype=np.bool_)
    flat = np.zeros((nr, nc), dtype=np.bool_)
    dist = np.full((nr, nc), dist_nodata)
    drain_mask = np.zeros((nr, nc), dtype=np.bool_)
    q = np.empty(1024, dtype=np.int64)
    drains = np.empty(1024, dtype=np.int64)
    nd_cells = np.empty(1024, dtype=np.int64)
    nd_w = np.empty((1024, 8), dtype=np.int64)
    sl = np.zeros(8)
    sl_nd = np.zeros(8)
    for r in range(nr):
        for s in range(nc):
            if not valid[r, s] or has[r, s]:
                continue
            root = z[r, s]
            total = 0.0
            for k in range(8):
                sl[k] = 0.0
                rr, ss = r + _PG_DR[k], s + _PG_DC[k]
                if rr < 0 or ss < 0 or rr >= nr or ss >= nc or not valid[rr, ss]:
                    continue
                d = root - z[rr, ss]
                if d > 0.0:
                    if k & 1:
                        d *= _SQRT2_INV
                    sl[k] = d
                    total += d
            if total > 0.0:
                for k in range(8):
                    w[r, s, k] = int(0.5 + sl[k] / total * 15)
                has[r, s] = True
                continue
            head, tail = 0, 1
            q[0] = r * nc + s
            flat[r, s] = True
            nd_n, dr_n = 0, 0
            while head < tail:
                c = q[head]
                head += 1
                cr, cs = c // nc, c % nc
                total, total_nd = 0.0, 0.0
                for k in range(8):
                    sl[k] = 0.0
                    sl_nd[k] = 0.0
                    rr, ss = cr + _PG_DR[k], cs + _PG_DC[k]
                    if rr < 0 or ss < 0 or rr >= nr or ss >= nc or not valid[rr, ss]:
                        d = _SQRT2_INV if k & 1 else 1.0
                        total_nd += d
                        sl_nd[k] = d
                        continue
                    d = root - z[rr, ss]
                    if d < 0:
                        continue
                    if d == 0.0:
                        if not flat[rr, ss]:
                            q = _grow(q, tail)
                            q[tail] = rr * nc + ss
                            tail += 1
                            flat[rr, ss] = True
                        continue
                    if k & 1:
                        d *= _SQRT2_INV
                    sl[k] = d
                    total += d
                if total > 0.0:
                    for k in range(8):
                        w[cr, cs, k] = int(0.5 + sl[k] / total * 15)
                    has[cr, cs] = True
                    dist[cr, cs] = 0.0
                    drain_mask[cr, cs] = True
                    drains = _grow(drains, dr_n)
                    drains[dr_n] = c
                    dr_n += 1
                elif total_nd > 0.0:
                    if nd_n >= nd_cells.size:
                        nd_cells = _grow(nd_cells, nd_n)
                        new = np.empty((nd_cells.size, 8), dtype=np.int64)
                        new[:nd_n] = nd_w[:nd_n]
                        nd_w = new
                    nd_cells[nd_n] = c
                    for k in range(8):
                        nd_w[nd_n, k] = int(0.5 + sl_nd[k] / total_nd * 15)
                    nd_n += 1
            if dr_n == 0:
                for m in range(nd_n):
                    c = nd_cells[m]
                    cr, cs = c // nc, c % nc
                    for k in range(8):
                        w[cr, cs, k] = nd_w[m, k]
                    has[cr, cs] = True
                    dist[cr, cs] = 0.0
                    drain_mask[cr, cs] = True
                    drains = _grow(drains, dr_n)
                    drains[dr_n] = c
                    dr_n += 1
            n_drains = dr_n
            # distance to the nearest drain over the plateau (FIFO relaxation)
            head = 0
            while head < dr_n:
                c = drains[head]
                head += 1
                cr, cs = c // nc, c % nc
                d0 = dist[cr, cs]
                for k in range(8):
                    rr, ss = cr + _PG_DR[k], cs + _PG_DC[k]
                    if rr < 0 or ss < 0 or rr >= nr or ss >= nc:
                        continue
                    nd = d0 + (_SQRT2 if k & 1 else 1.0)
                    if valid[rr, ss] and z[rr, ss] == root and dist[rr, ss] > nd:
                        dist[rr, ss] = nd
                        drains = _grow(drains, dr_n)
                        drains[dr_n] = rr * nc + ss
                        dr_n += 1
            # directions toward every plateau neighbour closer to a drain
            q = _grow(q, n_drains)
            q[:n_drains] = drains[:n_drains]
            head, tail = 0, n_drains
            while head < tail:
                c = q[head]
                head += 1
                cr, cs = c // nc, c % nc
                d0 = dist[cr, cs]
                total = 0.0
                for k in range(8):
                    sl[k] = 0.0
                    rr, ss = cr + _PG_DR[k], cs + _PG_DC[k]
                    if rr < 0 or ss < 0 or rr >= nr or ss >= nc:
                        continue
                    if not valid[rr, ss] or z[rr, ss] != root:
                        continue
                    dn = dist[rr, ss]
                    if dn == dist_nodata:
                        continue
                    if dn < d0:
                        sl[k] = _SQRT2_INV if k & 1 else 1.0
                        total += sl[k]
                    elif not drain_mask[rr, ss]:
                        q = _grow(q, tail)
                        q[tail] = rr * nc + ss
                        tail += 1
                        drain_mask[rr, ss] = True
                if total == 0:
                    continue
                for k in range(8):
                    w[cr, cs, k] = int(0.5 + sl[k] / total * 15)
                has[cr, cs] = True
    return w
