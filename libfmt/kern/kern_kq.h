/* kern_kq.h - K-quant quantizers with the sub-block fits vectorized ACROSS sub-blocks.
 *
 * Included by one ISA file (kern_avx2.c, kern_avx512.c) after it has defined the vector layer:
 *   KQ_W lanes; types vf (float), vi (int32), vm (lane mask); vf_set vf_load vf_store vf_add
 *   vf_sub vf_mul vf_div vf_sqrt vf_abs vf_neg vf_min(a,b) = a<b?a:b  vf_max(a,b) = a>b?a:b
 *   vf_lt vf_gt vf_le (ordered) vf_ne (unordered) vf_sel(m,t,f) vi_nearest (ggml's bit trick)
 *   vi_clamp vi_tof vi_fromf (truncating) vi_add_const vi_sel vi_store vi_store_u8 (low bytes of
 *   KQ_W lanes) vm_and vm_or vm_any vm_all.
 *
 * Lane k works on one sub-block and walks its elements in order, so every sum is accumulated
 * in exactly the order of the scalar reference and every lane executes the same float
 * operations as kern_scalar.c's fit_qkx / fit_qx / fit_q3. Data-dependent control flow becomes
 * masks: an iteration's candidate is accepted per lane; extra coordinate-descent passes of a
 * lane that had already converged change nothing (the pass is a function of the unchanged
 * state). Scale quantization is the scalar kern_q*_K_scales; the re-quantization after it is
 * elementwise and done here with the same operations, and so is the packing.
 *
 * A super-block whose inputs (or importance weights) are not finite or exceed 2^60 in
 * magnitude is quantized by the scalar reference: there intermediate NaNs of different signs
 * could meet, and which one survives an x86 operation depends on operand order.
 */
#ifndef QF_KERN_KQ_H
#define QF_KERN_KQ_H

#define KQ_MAXN 32 /* elements per sub-block (16 or 32) */
#define KQ_U 4     /* independent vectors interleaved per step (hides the latency of the
                      per-lane sequential sums; 4 measured best for Q3_K's coordinate descent,
                      +45% over 2, and no worse elsewhere) */
#define KQ_L (KQ_U * KQ_W) /* sub-blocks fitted at once ("virtual lanes") */

/* The per-vector loops are unrolled so that the per-lane sums stay in registers (kept in
 * arrays indexed by a loop variable they went through memory, and the store-to-load latency
 * lengthened every step of the sequential sums). */
#define KQ_UNROLL _Pragma("GCC unroll 8")

/* Transposed layout: element i of virtual lane v = u * KQ_W + k at [i * KQ_L + v]. */
#define LD(p, i, u) vf_load((p) + (i) * KQ_L + (u) * KQ_W)

/* QKX2 / QKX3 (see fit_qkx) of the lanes of vectors u0 .. u0 + QKX_U - 1 (2 measured best
 * once the per-vector loops are unrolled; KQ_U must be a multiple). Writes scale, the_min and
 * the codes Lt (transposed, as int32) of those lanes. */
#define QKX_U 2
static void kq_fit_qkx(int u0, int n, int nmax, const float *xt, const float *wt, float rmin,
                       float rdelta, int nstep, int use_mad, float *scale_out, float *min_out,
                       int32_t *Lt)
{
    const vf zero = vf_set(0.0f), nmaxf = vf_set((float)nmax), one = vf_set(1.0f);
    vf min[QKX_U], max[QKX_U], sum_w[QKX_U], sum_x[QKX_U], min0[QKX_U], iscale[QKX_U], scale[QKX_U];
    vf best[QKX_U], b_iscale[QKX_U], b_min[QKX_U];
    vm degen[QKX_U];
    KQ_UNROLL
    for (int u = 0; u < QKX_U; u++) {
        min[u] = max[u] = LD(xt, 0, u0 + u);
        sum_w[u] = LD(wt, 0, u0 + u);
        sum_x[u] = vf_mul(sum_w[u], min[u]);
    }
    for (int i = 1; i < n; i++) {
        KQ_UNROLL
        for (int u = 0; u < QKX_U; u++) {
            const vf x = LD(xt, i, u0 + u), w = LD(wt, i, u0 + u);
            min[u] = vf_min(x, min[u]);
            max[u] = vf_max(x, max[u]);
            sum_w[u] = vf_add(sum_w[u], w);
            sum_x[u] = vf_add(sum_x[u], vf_mul(w, x));
        }
    }
    KQ_UNROLL
    for (int u = 0; u < QKX_U; u++) {
        min[u] = vf_sel(vf_gt(min[u], zero), zero, min[u]);
        degen[u] = vf_le(max[u], min[u]);
        min0[u] = b_min[u] = min[u];
        iscale[u] = b_iscale[u] = vf_div(nmaxf, vf_sub(max[u], min[u]));
        scale[u] = vf_div(one, iscale[u]);
        best[u] = zero;
    }
    for (int i = 0; i < n; i++) {
        KQ_UNROLL
        for (int u = 0; u < QKX_U; u++) {
            const vf x = LD(xt, i, u0 + u), w = LD(wt, i, u0 + u);
            const vf l = vi_tof(vi_clamp(vi_nearest(vf_mul(iscale[u], vf_sub(x, min[u]))), 0, nmax));
            vf diff = vf_sub(vf_add(vf_mul(scale[u], l), min[u]), x);
            diff = use_mad ? vf_abs(diff) : vf_mul(diff, diff);
            best[u] = vf_add(best[u], vf_mul(w, diff));
        }
    }
    vf lf[KQ_MAXN][QKX_U];
    for (int is = 0; is <= nstep; is++) {
        float num = rdelta * (float)is;
        num = rmin + num;
        num = num + (float)nmax;
        vf sum_l[QKX_U], sum_l2[QKX_U], sum_xl[QKX_U], D[QKX_U];
        vm ok[QKX_U];
        int any = 0;
        KQ_UNROLL
        for (int u = 0; u < QKX_U; u++) {
            iscale[u] = vf_div(vf_set(num), vf_sub(max[u], min[u]));
            sum_l[u] = sum_l2[u] = sum_xl[u] = zero;
        }
        for (int i = 0; i < n; i++) {
            KQ_UNROLL
            for (int u = 0; u < QKX_U; u++) {
                const vf x = LD(xt, i, u0 + u), w = LD(wt, i, u0 + u);
                lf[i][u] = vi_tof(vi_clamp(vi_nearest(vf_mul(iscale[u], vf_sub(x, min[u]))), 0, nmax));
                const vf wl = vf_mul(w, lf[i][u]);
                sum_l[u] = vf_add(sum_l[u], wl);
                sum_l2[u] = vf_add(sum_l2[u], vf_mul(wl, lf[i][u]));
                sum_xl[u] = vf_add(sum_xl[u], vf_mul(wl, x));
            }
        }
        KQ_UNROLL
        for (int u = 0; u < QKX_U; u++) {
            D[u] = vf_sub(vf_mul(sum_w[u], sum_l2[u]), vf_mul(sum_l[u], sum_l[u]));
            ok[u] = vf_gt(D[u], zero);
            any |= vm_any(ok[u]);
        }
        if (!any)
            continue;
        vf this_scale[QKX_U], this_min[QKX_U], cur[QKX_U];
        KQ_UNROLL
        for (int u = 0; u < QKX_U; u++) {
            this_scale[u] = vf_div(vf_sub(vf_mul(sum_w[u], sum_xl[u]), vf_mul(sum_x[u], sum_l[u])), D[u]);
            this_min[u] = vf_div(vf_sub(vf_mul(sum_l2[u], sum_x[u]), vf_mul(sum_l[u], sum_xl[u])), D[u]);
            const vm pos = vf_gt(this_min[u], zero);
            this_min[u] = vf_sel(pos, zero, this_min[u]);
            this_scale[u] = vf_sel(pos, vf_div(sum_xl[u], sum_l2[u]), this_scale[u]);
            cur[u] = zero;
        }
        for (int i = 0; i < n; i++) {
            KQ_UNROLL
            for (int u = 0; u < QKX_U; u++) {
                const vf x = LD(xt, i, u0 + u), w = LD(wt, i, u0 + u);
                vf diff = vf_sub(vf_add(vf_mul(this_scale[u], lf[i][u]), this_min[u]), x);
                diff = use_mad ? vf_abs(diff) : vf_mul(diff, diff);
                cur[u] = vf_add(cur[u], vf_mul(w, diff));
            }
        }
        KQ_UNROLL
        for (int u = 0; u < QKX_U; u++) {
            const vm acc = vm_and(ok[u], vf_lt(cur[u], best[u]));
            best[u] = vf_sel(acc, cur[u], best[u]);
            scale[u] = vf_sel(acc, this_scale[u], scale[u]);
            b_iscale[u] = vf_sel(acc, iscale[u], b_iscale[u]);
            b_min[u] = vf_sel(acc, min[u], b_min[u]);
            min[u] = vf_sel(acc, this_min[u], min[u]);
        }
    }
    const vi zi = vi_nearest(zero); /* 0 */
    for (int i = 0; i < n; i++) {
        KQ_UNROLL
        for (int u = 0; u < QKX_U; u++) {
            const vf x = LD(xt, i, u0 + u);
            const vi l = vi_clamp(vi_nearest(vf_mul(b_iscale[u], vf_sub(x, b_min[u]))), 0, nmax);
            vi_store(Lt + i * KQ_L + (u0 + u) * KQ_W, vi_sel(degen[u], zi, l));
        }
    }
    KQ_UNROLL
    for (int u = 0; u < QKX_U; u++) {
        vf_store(scale_out + (u0 + u) * KQ_W, vf_sel(degen[u], zero, scale[u]));
        /* -min, as the scalar (-0 for a zero min) */
        vf_store(min_out + (u0 + u) * KQ_W, vf_neg(vf_sel(degen[u], min0[u], min[u])));
    }
}

/* Signed absmax (first occurrence) per lane and the lanes that count as all-zero. */
static inline void kq_absmax(int n, const float *xt, int u, vf *max, vm *tiny)
{
    const vf zero = vf_set(0.0f);
    vf amax = zero;
    *max = zero;
    for (int i = 0; i < n; i++) {
        const vf x = LD(xt, i, u), ax = vf_abs(x);
        const vm gt = vf_gt(ax, amax);
        amax = vf_sel(gt, ax, amax);
        *max = vf_sel(gt, x, *max);
    }
    *tiny = vf_lt(amax, vf_set(1e-15f));
}

/* nearest(v) clamped to [lo, hi], as a float, for |v| <= 2^22: adding and subtracting
 * 1.5 * 2^23 rounds to nearest even exactly like ggml's bit trick does in that range. */
static inline vf kq_round_clamp(vf v, vf lo, vf hi)
{
    const vf c = vf_set(12582912.0f);
    return vf_min(vf_max(vf_sub(vf_add(v, c), c), lo), hi);
}

/* QX (see fit_qx): weights wt, codes l + nmax in Lt. In a lane that is not all-zero
 * (|max| >= 1e-15) every |iscale * x| <= (nmax + 0.9) |x / max| stays far below 2^22, so the
 * rounding can be done in float; all-zero lanes are discarded at the end anyway. w*x does not
 * depend on the candidate scale and is computed once (same value each time). */
static void kq_fit_qx(int n, int nmax, const float *xt, const float *wt, float *scale_out,
                      int32_t *Lt)
{
    const vf zero = vf_set(0.0f), lo = vf_set((float)-nmax), hi = vf_set((float)(nmax - 1));
    vf max[KQ_U], iscale[KQ_U], b_iscale[KQ_U], sumlx[KQ_U], suml2[KQ_U], scale[KQ_U], best[KQ_U];
    vf wx[KQ_MAXN][KQ_U];
    vm tiny[KQ_U];
    KQ_UNROLL
    for (int u = 0; u < KQ_U; u++) {
        kq_absmax(n, xt, u, &max[u], &tiny[u]);
        iscale[u] = b_iscale[u] = vf_div(vf_set((float)-nmax), max[u]);
        sumlx[u] = suml2[u] = zero;
    }
    for (int i = 0; i < n; i++) {
        KQ_UNROLL
        for (int u = 0; u < KQ_U; u++) {
            const vf x = LD(xt, i, u), w = LD(wt, i, u);
            wx[i][u] = vf_mul(w, x);
            const vf l = kq_round_clamp(vf_mul(iscale[u], x), lo, hi);
            sumlx[u] = vf_add(sumlx[u], vf_mul(wx[i][u], l));
            suml2[u] = vf_add(suml2[u], vf_mul(vf_mul(w, l), l));
        }
    }
    KQ_UNROLL
    for (int u = 0; u < KQ_U; u++) {
        scale[u] = vf_sel(vf_ne(suml2[u], zero), vf_div(sumlx[u], suml2[u]), zero);
        best[u] = vf_mul(scale[u], sumlx[u]);
    }
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        float num = 0.1f * (float)is;
        num = (float)nmax + num;
        KQ_UNROLL
        for (int u = 0; u < KQ_U; u++) {
            iscale[u] = vf_div(vf_set(-num), max[u]);
            sumlx[u] = suml2[u] = zero;
        }
        for (int i = 0; i < n; i++) {
            KQ_UNROLL
            for (int u = 0; u < KQ_U; u++) {
                const vf x = LD(xt, i, u), w = LD(wt, i, u);
                const vf l = kq_round_clamp(vf_mul(iscale[u], x), lo, hi);
                sumlx[u] = vf_add(sumlx[u], vf_mul(wx[i][u], l));
                suml2[u] = vf_add(suml2[u], vf_mul(vf_mul(w, l), l));
            }
        }
        KQ_UNROLL
        for (int u = 0; u < KQ_U; u++) {
            const vm acc = vm_and(vf_gt(suml2[u], zero),
                                  vf_gt(vf_mul(sumlx[u], sumlx[u]), vf_mul(best[u], suml2[u])));
            if (!vm_any(acc))
                continue;
            b_iscale[u] = vf_sel(acc, iscale[u], b_iscale[u]);
            scale[u] = vf_sel(acc, vf_div(sumlx[u], suml2[u]), scale[u]);
            best[u] = vf_sel(acc, vf_mul(scale[u], sumlx[u]), best[u]);
        }
    }
    const vi zi = vi_nearest(zero);
    for (int i = 0; i < n; i++) {
        KQ_UNROLL
        for (int u = 0; u < KQ_U; u++) {
            const vf x = LD(xt, i, u);
            const vi l = vi_clamp(vi_nearest(vf_mul(b_iscale[u], x)), -nmax, nmax - 1);
            vi_store(Lt + i * KQ_L + u * KQ_W, vi_sel(tiny[u], zi, vi_add_const(l, nmax)));
        }
    }
    KQ_UNROLL
    for (int u = 0; u < KQ_U; u++)
        vf_store(scale_out + u * KQ_W, vf_sel(tiny[u], zero, scale[u]));
}

/* Q3S (see fit_q3): weights x^2, up to 5 coordinate-descent passes; codes l + nmax in Lt.
 * The products wx * L and (w * L) * L of the current codes are kept (the scalar recomputes
 * them from the same operands: same values) and replaced with those of an accepted code. A
 * vector whose lanes all kept their codes in a pass is done: a further pass would compute the
 * same (rejected) candidates again, and the scalar lanes stop there too. */
static void kq_fit_q3(int n, int nmax, const float *xt, float *scale_out, int32_t *Lt)
{
    const vf zero = vf_set(0.0f);
    vf max[KQ_U], iscale[KQ_U], sumlx[KQ_U], suml2[KQ_U];
    vm tiny[KQ_U];
    vf L[KQ_MAXN][KQ_U], w[KQ_MAXN][KQ_U], wx[KQ_MAXN][KQ_U], wxl[KQ_MAXN][KQ_U], wll[KQ_MAXN][KQ_U];
    int active[KQ_U];
    KQ_UNROLL
    for (int u = 0; u < KQ_U; u++) {
        kq_absmax(n, xt, u, &max[u], &tiny[u]);
        iscale[u] = vf_div(vf_set((float)-nmax), max[u]);
        sumlx[u] = suml2[u] = zero;
        active[u] = 1;
    }
    for (int i = 0; i < n; i++) {
        KQ_UNROLL
        for (int u = 0; u < KQ_U; u++) {
            const vf x = LD(xt, i, u);
            L[i][u] = vi_tof(vi_clamp(vi_nearest(vf_mul(iscale[u], x)), -nmax, nmax - 1));
            w[i][u] = vf_mul(x, x);
            wx[i][u] = vf_mul(w[i][u], x);
            wxl[i][u] = vf_mul(wx[i][u], L[i][u]);
            wll[i][u] = vf_mul(vf_mul(w[i][u], L[i][u]), L[i][u]);
            sumlx[u] = vf_add(sumlx[u], wxl[i][u]);
            suml2[u] = vf_add(suml2[u], wll[i][u]);
        }
    }
    for (int itry = 0; itry < 5; itry++) {
        vm changed[KQ_U];
        int any = 0;
        KQ_UNROLL
        for (int u = 0; u < KQ_U; u++) {
            changed[u] = vf_lt(zero, zero); /* none */
            any |= active[u];
        }
        if (!any)
            break;
        for (int i = 0; i < n; i++) {
            KQ_UNROLL
            for (int u = 0; u < KQ_U; u++) {
                if (!active[u])
                    continue;
                const vf x = LD(xt, i, u), Li = L[i][u];
                const vf slx = vf_sub(sumlx[u], wxl[i][u]);
                const vm c1 = vf_gt(slx, zero);
                const vf sl2 = vf_sub(suml2[u], wll[i][u]);
                const vf r = vf_div(vf_mul(x, sl2), slx);
                const vf nl = vi_tof(vi_clamp(vi_nearest(r), -nmax, nmax - 1));
                const vm c2 = vm_and(c1, vf_ne(nl, Li));
                const vf pxl = vf_mul(wx[i][u], nl), pll = vf_mul(vf_mul(w[i][u], nl), nl);
                const vf slx2 = vf_add(slx, pxl);
                const vf sl22 = vf_add(sl2, pll);
                const vf lhs = vf_mul(vf_mul(slx2, slx2), suml2[u]);
                const vf rhs = vf_mul(vf_mul(sumlx[u], sumlx[u]), sl22);
                const vm c3 = vm_and(c2, vm_and(vf_gt(sl22, zero), vf_gt(lhs, rhs)));
                L[i][u] = vf_sel(c3, nl, Li);
                wxl[i][u] = vf_sel(c3, pxl, wxl[i][u]);
                wll[i][u] = vf_sel(c3, pll, wll[i][u]);
                sumlx[u] = vf_sel(c3, slx2, sumlx[u]);
                suml2[u] = vf_sel(c3, sl22, suml2[u]);
                changed[u] = vm_or(changed[u], c3);
            }
        }
        KQ_UNROLL
        for (int u = 0; u < KQ_U; u++)
            active[u] = active[u] && vm_any(changed[u]);
    }
    const vi zi = vi_nearest(zero);
    for (int i = 0; i < n; i++)
        KQ_UNROLL
        for (int u = 0; u < KQ_U; u++)
            vi_store(Lt + i * KQ_L + u * KQ_W,
                     vi_sel(tiny[u], zi, vi_add_const(vi_fromf(L[i][u]), nmax)));
    KQ_UNROLL
    for (int u = 0; u < KQ_U; u++)
        vf_store(scale_out + u * KQ_W,
                 vf_sel(tiny[u], zero,
                        vf_sel(vf_gt(suml2[u], zero), vf_div(sumlx[u], suml2[u]), zero)));
}

/* ---------------------------------------------------------------------------------------
 * Row drivers
 */
enum { KQ_Q2, KQ_Q3, KQ_Q4, KQ_Q5, KQ_Q6 };

/* All of v finite and within +-2^60 (NaN fails the ordered compare). */
static int kq_tame(const float *v, int n)
{
    const vf lim = vf_set(0x1p60f);
    vm ok = vf_le(vf_abs(vf_load(v)), lim);
    for (int i = KQ_W; i < n; i += KQ_W)
        ok = vm_and(ok, vf_le(vf_abs(vf_load(v + i)), lim));
    return vm_all(ok);
}

static float kq_sum_sq(const float *x, int n)
{
    float s = 0.0f;
    for (int j = 0; j < n; j++)
        s = s + x[j] * x[j];
    return s;
}

/* Re-quantize the n elements of one sub-block with its decoded scale d (and min m when
 * use_m): code = clamp(nearest((x [+ m]) / d), lo, hi) + off, as the scalar finish steps. */
static inline void kq_requant(const float *x, int n, float d, float m, int use_m, int lo, int hi,
                              int off, uint8_t *L)
{
    const vf dv = vf_set(d), mv = vf_set(m);
    for (int i = 0; i < n; i += KQ_W) {
        vf v = vf_load(x + i);
        if (use_m)
            v = vf_add(v, mv);
        const vi l = vi_clamp(vi_nearest(vf_div(v, dv)), lo, hi);
        vi_store_u8(L + i, vi_add_const(l, off));
    }
}

static inline float kq_h2f(const uint8_t *p)
{
    return kern_f16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* Fit codes of sub-block j (n elements) into L, from the transposed fit output: sub-block g of
 * the window sits in virtual lane g % KQ_L of chunk g / KQ_L. Only needed where the stored scale is 0
 * (elsewhere the re-quantization overwrites them). */
static void kq_fit_codes(const int32_t *Ltw, int g, int n, uint8_t *L)
{
    const int32_t *Lt = Ltw + (g / KQ_L) * (KQ_MAXN * KQ_L) + g % KQ_L;
    for (int i = 0; i < n; i++)
        L[i] = (uint8_t)Lt[i * KQ_L];
}

/* Packing with 32-byte vectors (both including files are compiled with AVX2). Codes are in
 * range by construction (Q2_K 0..3, Q3_K 0..7, Q4_K 0..15, Q5_K 0..31, Q6_K 0..63), where
 * these bit operations equal the reference's packing loops. 16-bit shifts are masked so that
 * no bit crosses into a neighbouring byte. */
static inline __m256i kq_ld32(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

static inline __m256i kq_shr(__m256i v, int k, int mask)
{
    return _mm256_and_si256(_mm256_srli_epi16(v, k), _mm256_set1_epi8((char)mask));
}

/* v (each byte < 2^(8-k)) << k */
static inline __m256i kq_shl(__m256i v, int k)
{
    return _mm256_slli_epi16(v, k);
}

static void kq_pack(int kind, const uint8_t *L, uint8_t *y)
{
    const __m256i m3 = _mm256_set1_epi8(3), m15 = _mm256_set1_epi8(15);
    switch (kind) {
    case KQ_Q2:
    case KQ_Q3: {
        uint8_t *qs = kind == KQ_Q2 ? y + 16 : y + 32;
        if (kind == KQ_Q3) {
            __m256i h = _mm256_setzero_si256();
            for (int k = 0; k < 8; k++)
                h = _mm256_or_si256(h, kq_shl(kq_shr(kq_ld32(L + 32 * k), 2, 1), k));
            _mm256_storeu_si256((__m256i *)y, h);
        }
        for (int j = 0; j < 2; j++) {
            const uint8_t *Lj = L + 128 * j;
            __m256i q = _mm256_and_si256(kq_ld32(Lj), m3);
            q = _mm256_or_si256(q, kq_shl(_mm256_and_si256(kq_ld32(Lj + 32), m3), 2));
            q = _mm256_or_si256(q, kq_shl(_mm256_and_si256(kq_ld32(Lj + 64), m3), 4));
            q = _mm256_or_si256(q, kq_shl(_mm256_and_si256(kq_ld32(Lj + 96), m3), 6));
            _mm256_storeu_si256((__m256i *)(qs + 32 * j), q);
        }
        break;
    }
    case KQ_Q4:
    case KQ_Q5: {
        uint8_t *ql = kind == KQ_Q4 ? y + 16 : y + 48;
        __m256i h = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i lo = kq_ld32(L + 64 * c), hi = kq_ld32(L + 64 * c + 32);
            const __m256i q = _mm256_or_si256(_mm256_and_si256(lo, m15),
                                              kq_shl(_mm256_and_si256(hi, m15), 4));
            _mm256_storeu_si256((__m256i *)(ql + 32 * c), q);
            h = _mm256_or_si256(h, kq_shl(kq_shr(lo, 4, 1), 2 * c));
            h = _mm256_or_si256(h, kq_shl(kq_shr(hi, 4, 1), 2 * c + 1));
        }
        if (kind == KQ_Q5)
            _mm256_storeu_si256((__m256i *)(y + 16), h);
        break;
    }
    default:
        for (int j = 0; j < 2; j++) {
            const uint8_t *Lj = L + 128 * j;
            const __m256i q1 = kq_ld32(Lj), q2 = kq_ld32(Lj + 32);
            const __m256i q3 = kq_ld32(Lj + 64), q4 = kq_ld32(Lj + 96);
            const __m256i a = _mm256_or_si256(_mm256_and_si256(q1, m15),
                                              kq_shl(_mm256_and_si256(q3, m15), 4));
            const __m256i b = _mm256_or_si256(_mm256_and_si256(q2, m15),
                                              kq_shl(_mm256_and_si256(q4, m15), 4));
            __m256i h = kq_shr(q1, 4, 3);
            h = _mm256_or_si256(h, kq_shl(kq_shr(q2, 4, 3), 2));
            h = _mm256_or_si256(h, kq_shl(kq_shr(q3, 4, 3), 4));
            h = _mm256_or_si256(h, kq_shl(kq_shr(q4, 4, 3), 6));
            _mm256_storeu_si256((__m256i *)(y + 64 * j), a);
            _mm256_storeu_si256((__m256i *)(y + 64 * j + 32), b);
            _mm256_storeu_si256((__m256i *)(y + 128 + 32 * j), h);
        }
        break;
    }
}

/* Scale fields (scalar, shared with the reference), vector re-quantization, packing. */
static void kq_finish(int kind, const float *x, const float *scales, const float *mins,
                      const float *sw, const int32_t *Ltw, int g0, uint8_t *L, uint8_t *y)
{
    switch (kind) {
    case KQ_Q2: {
        kern_q2_K_scales(scales, mins, sw, y);
        const float dm = kq_h2f(y + 80), mm = kq_h2f(y + 82);
        for (int j = 0; j < 16; j++) {
            const float d = dm * (float)(y[j] & 0xF);
            if (d == 0.0f) {
                kq_fit_codes(Ltw, g0 + j, 16, L + 16 * j);
                continue;
            }
            kq_requant(x + 16 * j, 16, d, mm * (float)(y[j] >> 4), 1, 0, 3, 0, L + 16 * j);
        }
        kq_pack(kind, L, y);
        break;
    }
    case KQ_Q3: {
        kern_q3_K_scales(scales, sw, y);
        const float d_all = kq_h2f(y + 108);
        const uint8_t *s = y + 96;
        for (int j = 0; j < 16; j++) {
            const int lo = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
            const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
            const float d = d_all * (float)((lo | (hi << 4)) - 32);
            if (d == 0.0f) {
                kq_fit_codes(Ltw, g0 + j, 16, L + 16 * j);
                continue;
            }
            kq_requant(x + 16 * j, 16, d, 0.0f, 0, -4, 3, 4, L + 16 * j);
        }
        kq_pack(kind, L, y);
        break;
    }
    case KQ_Q4:
    case KQ_Q5: {
        const int nmax = kind == KQ_Q4 ? 15 : 31;
        kern_q45_K_scales(nmax, scales, mins, sw, y);
        const float dall = kq_h2f(y), mall = kq_h2f(y + 2);
        const uint8_t *b = y + 4;
        for (int j = 0; j < 8; j++) {
            int sc, m;
            if (j < 4) {
                sc = b[j] & 63;
                m = b[j + 4] & 63;
            } else {
                sc = (b[j + 4] & 0xF) | ((b[j - 4] >> 6) << 4);
                m = (b[j + 4] >> 4) | ((b[j] >> 6) << 4);
            }
            const float d = dall * (float)sc;
            if (d == 0.0f) {
                kq_fit_codes(Ltw, g0 + j, 32, L + 32 * j);
                continue;
            }
            kq_requant(x + 32 * j, 32, d, mall * (float)m, 1, 0, nmax, 0, L + 32 * j);
        }
        kq_pack(kind, L, y);
        break;
    }
    default: {
        if (!kern_q6_K_scales(scales, y))
            break;
        const float dall = kq_h2f(y + 208);
        for (int j = 0; j < 16; j++) {
            const float d = dall * (float)(int8_t)y[192 + j];
            if (d == 0.0f) {
                kq_fit_codes(Ltw, g0 + j, 16, L + 16 * j);
                continue;
            }
            kq_requant(x + 16 * j, 16, d, 0.0f, 0, -32, 31, 32, L + 16 * j);
        }
        kq_pack(kind, L, y);
        break;
    }
    }
}

#define KQ_SUBS_MAX 16 /* sub-blocks per super-block */
#define KQ_WIN_SB (KQ_L >= 8 ? KQ_L / 8 : 1)              /* super-blocks per window (max) */

/* ---------------------------------------------------------------------------------------
 * Legacy types with an importance matrix (spec §5.7): per block of 32, weights
 * w = qw * sqrt(sigma2 + x^2) with sigma2 = sum x^2 / n over the whole row; Q4_0/Q5_0 fit with
 * QX(32, 8/16), Q4_1/Q5_1 with QKX3(32, 15/31). Blocks are fitted KQ_L at a time. A row with
 * non-finite or huge inputs or weights (or an infinite sigma2) is left to the scalar reference.
 * The including file declares enum { KL_Q4_0, KL_Q4_1, KL_Q5_0, KL_Q5_1 }.
 */
static void kq_legacy_row(int kind, const float *src, uint8_t *y, int64_t n, const float *imx)
{
    static const kern_q_fn ref[4] = {kern_q_q4_0, kern_q_q4_1, kern_q_q5_0, kern_q_q5_1};
    static const int nmaxs[4] = {8, 15, 16, 31};
    static const size_t bytes[4] = {18, 20, 22, 24};
    const int64_t nb = n / 32;
    float sigma2 = 0.0f;
    for (int64_t j = 0; j < n; j++)
        sigma2 = sigma2 + src[j] * src[j];
    sigma2 = sigma2 / (float)n;
    int tame = sigma2 <= 0x1p120f;
    for (int64_t j = 0; tame && j + KQ_W <= n; j += KQ_W)
        tame = kq_tame(src + j, KQ_W) && kq_tame(imx + j, KQ_W);
    if (!tame) {
        ref[kind](src, y, n, imx);
        return;
    }
    const int nmax = nmaxs[kind];
    const vf s2 = vf_set(sigma2);
    float xt[32 * KQ_L], wt[32 * KQ_L], lane_s[KQ_L], lane_m[KQ_L] = {0};
    int32_t Lt[32 * KQ_L];
    for (int64_t b0 = 0; b0 < nb; b0 += KQ_L) {
        const int nblk = nb - b0 < KQ_L ? (int)(nb - b0) : KQ_L;
        for (int k = 0; k < KQ_L; k++) {
            const float *xb = src + 32 * (b0 + k), *qb = imx + 32 * (b0 + k);
            for (int i = 0; i < 32; i++) {
                xt[i * KQ_L + k] = k < nblk ? xb[i] : 0.0f;
                wt[i * KQ_L + k] = k < nblk ? qb[i] : 0.0f;
            }
        }
        for (int i = 0; i < 32 * KQ_L; i += KQ_W) {
            const vf x = vf_load(xt + i);
            vf_store(wt + i, vf_mul(vf_load(wt + i), vf_sqrt(vf_add(s2, vf_mul(x, x)))));
        }
        if (kind == KL_Q4_0 || kind == KL_Q5_0) {
            kq_fit_qx(32, nmax, xt, wt, lane_s, Lt);
        } else {
            KQ_UNROLL
            for (int u = 0; u < KQ_U; u += QKX_U)
                kq_fit_qkx(u, 32, nmax, xt, wt, -0.9f, 0.05f, 36, 0, lane_s, lane_m, Lt);
        }
        for (int k = 0; k < nblk; k++) {
            uint8_t *yb = y + bytes[kind] * (size_t)(b0 + k);
            uint8_t q[32];
            for (int i = 0; i < 32; i++)
                q[i] = (uint8_t)Lt[i * KQ_L + k];
            const uint16_t d = kern_f32_to_f16(lane_s[k]);
            yb[0] = (uint8_t)d;
            yb[1] = (uint8_t)(d >> 8);
            int off = 2;
            if (kind == KL_Q4_1 || kind == KL_Q5_1) {
                const uint16_t m = kern_f32_to_f16(-lane_m[k]);
                yb[2] = (uint8_t)m;
                yb[3] = (uint8_t)(m >> 8);
                off = 4;
            }
            if (kind == KL_Q4_0 || kind == KL_Q4_1) {
                for (int j = 0; j < 16; j++)
                    yb[off + j] = (uint8_t)(q[j] | (q[j + 16] << 4));
            } else {
                uint32_t h = 0;
                for (int j = 0; j < 16; j++) {
                    yb[off + 4 + j] = (uint8_t)((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
                    h |= ((q[j] & 0x10u) >> 4) << j;
                    h |= ((q[j + 16] & 0x10u) >> 4) << (j + 16);
                }
                for (int j = 0; j < 4; j++)
                    yb[off + j] = (uint8_t)(h >> (8 * j));
            }
        }
    }
}

static void kq_row(int kind, const float *src, uint8_t *y, int64_t n_per_row, const float *imx)
{
    static const float zeros[256];
    const int S = (kind == KQ_Q4 || kind == KQ_Q5) ? 8 : 16; /* sub-blocks per super-block */
    const int n = 256 / S;                                   /* elements per sub-block */
    const int wsb = KQ_L >= S ? KQ_L / S : 1;                /* super-blocks per window */
    const int nchunks = wsb * S / KQ_L;
    const size_t bytes = kind == KQ_Q2 ? 84 : kind == KQ_Q3 ? 110 : kind == KQ_Q4 ? 144
                       : kind == KQ_Q5 ? 176 : 210;
    const int64_t nb = n_per_row / 256;
    float xt[KQ_MAXN * KQ_L], wt[KQ_MAXN * KQ_L];
    float sc[KQ_WIN_SB * KQ_SUBS_MAX], mn[KQ_WIN_SB * KQ_SUBS_MAX], sw[KQ_WIN_SB * KQ_SUBS_MAX];
    float lane_s[KQ_L], lane_m[KQ_L] = {0};
    int32_t Ltw[(16 / KQ_L > 1 ? 16 / KQ_L : 1) * KQ_MAXN * KQ_L]; /* fit codes, per chunk */
    uint8_t L[256];
    for (int64_t b0 = 0; b0 < nb; b0 += wsb) {
        const int nsb = nb - b0 < wsb ? (int)(nb - b0) : wsb;
        const float *xs[KQ_WIN_SB], *qs[KQ_WIN_SB];
        float sigma2[KQ_WIN_SB];
        int tame = 1;
        for (int s = 0; s < wsb; s++) {
            xs[s] = s < nsb ? src + 256 * (b0 + s) : zeros;
            qs[s] = imx && s < nsb ? imx + 256 * (b0 + s) : NULL;
            if (s < nsb)
                tame &= kq_tame(xs[s], 256) && (!qs[s] || kq_tame(qs[s], 256));
            sigma2[s] = 0.0f;
            if (qs[s]) {
                sigma2[s] = kq_sum_sq(xs[s], 256);
                if (kind == KQ_Q2) {
                    sigma2[s] = sigma2[s] / 256.0f;
                } else {
                    sigma2[s] = 2.0f * sigma2[s];
                    sigma2[s] = sigma2[s] / 256.0f;
                }
            }
        }
        if (!tame) {
            const kern_q_fn ref = kern_table_scalar.q[kind == KQ_Q2 ? QF_TYPE_Q2_K
                                                     : kind == KQ_Q3 ? QF_TYPE_Q3_K
                                                     : kind == KQ_Q4 ? QF_TYPE_Q4_K
                                                     : kind == KQ_Q5 ? QF_TYPE_Q5_K
                                                                     : QF_TYPE_Q6_K];
            for (int s = 0; s < nsb; s++)
                ref(xs[s], y + bytes * (size_t)(b0 + s), 256, qs[s]);
            continue;
        }
        for (int c = 0; c < nchunks; c++) {
            const int g0 = c * KQ_L; /* first sub-block of the window in this chunk */
            int32_t *Lt = Ltw + c * (KQ_MAXN * KQ_L);
            for (int k = 0; k < KQ_L; k++) {
                const int g = g0 + k, s = g / S, j = g % S;
                const float *xb = xs[s] + n * j;
                const float *qb = qs[s] ? qs[s] + n * j : NULL;
                for (int i = 0; i < n; i++)
                    xt[i * KQ_L + k] = xb[i];
                if (qb) {
                    for (int i = 0; i < n; i++)
                        wt[i * KQ_L + k] = qb[i]; /* raw importance, weights built below */
                }
            }
            /* weights, per lane in element order */
            KQ_UNROLL
            for (int u = 0; u < KQ_U; u++) {
                float *xu = xt + u * KQ_W, *wu = wt + u * KQ_W;
                if (imx && kind != KQ_Q6) {
                    float sg[KQ_W];
                    for (int k = 0; k < KQ_W; k++)
                        sg[k] = sigma2[(g0 + u * KQ_W + k) / S];
                    const vf s2 = vf_load(sg);
                    vf s = vf_set(0.0f);
                    for (int i = 0; i < n; i++) {
                        const vf x = vf_load(xu + i * KQ_L);
                        const vf w = vf_mul(vf_load(wu + i * KQ_L), vf_sqrt(vf_add(s2, vf_mul(x, x))));
                        vf_store(wu + i * KQ_L, w);
                        s = vf_add(s, w);
                    }
                    vf_store(lane_s, s);
                    for (int k = 0; k < KQ_W; k++)
                        sw[g0 + u * KQ_W + k] = lane_s[k];
                } else if (kind == KQ_Q2) {
                    for (int i = 0; i < n; i++)
                        vf_store(wu + i * KQ_L, vf_abs(vf_load(xu + i * KQ_L)));
                } else if (kind == KQ_Q4 || kind == KQ_Q5) {
                    vf s = vf_set(0.0f);
                    for (int i = 0; i < n; i++) {
                        const vf x = vf_load(xu + i * KQ_L);
                        s = vf_add(s, vf_mul(x, x));
                    }
                    const vf av = vf_sqrt(vf_div(s, vf_set(32.0f)));
                    for (int i = 0; i < n; i++)
                        vf_store(wu + i * KQ_L, vf_add(av, vf_abs(vf_load(xu + i * KQ_L))));
                } else if (kind == KQ_Q6 && !imx) {
                    for (int i = 0; i < n; i++) {
                        const vf x = vf_load(xu + i * KQ_L);
                        vf_store(wu + i * KQ_L, vf_mul(x, x));
                    }
                }
            }
            switch (kind) {
            case KQ_Q2:
                KQ_UNROLL
                for (int u = 0; u < KQ_U; u += QKX_U) {
                    if (imx)
                        kq_fit_qkx(u, n, 3, xt, wt, -0.9f, 0.05f, 36, 0, lane_s, lane_m, Lt);
                    else
                        kq_fit_qkx(u, n, 3, xt, wt, -0.5f, 0.1f, 15, 1, lane_s, lane_m, Lt);
                }
                break;
            case KQ_Q4:
            case KQ_Q5: {
                const int nmax = kind == KQ_Q4 ? 15 : 31;
                KQ_UNROLL
                for (int u = 0; u < KQ_U; u += QKX_U) {
                    if (imx)
                        kq_fit_qkx(u, n, nmax, xt, wt, -0.9f, 0.05f, 36, 0, lane_s, lane_m, Lt);
                    else
                        kq_fit_qkx(u, n, nmax, xt, wt, kind == KQ_Q4 ? -1.0f : -0.5f, 0.1f,
                                   kind == KQ_Q4 ? 20 : 15, 0, lane_s, lane_m, Lt);
                }
                break;
            }
            case KQ_Q3:
                if (imx)
                    kq_fit_qx(n, 4, xt, wt, lane_s, Lt);
                else
                    kq_fit_q3(n, 4, xt, lane_s, Lt);
                break;
            default:
                kq_fit_qx(n, 32, xt, wt, lane_s, Lt);
                break;
            }
            for (int k = 0; k < KQ_L; k++) {
                sc[g0 + k] = lane_s[k];
                mn[g0 + k] = lane_m[k];
            }
        }
        for (int s = 0; s < nsb; s++)
            kq_finish(kind, xs[s], sc + S * s, mn + S * s, imx ? sw + S * s : NULL, Ltw, S * s, L,
                      y + bytes * (size_t)(b0 + s));
    }
}

static void kq_q2_K(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    kq_row(KQ_Q2, src, dst, n, imx);
}
static void kq_q3_K(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    kq_row(KQ_Q3, src, dst, n, imx);
}
static void kq_q4_K(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    kq_row(KQ_Q4, src, dst, n, imx);
}
static void kq_q5_K(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    kq_row(KQ_Q5, src, dst, n, imx);
}
static void kq_q6_K(const float *restrict src, void *restrict dst, int64_t n, const float *imx)
{
    kq_row(KQ_Q6, src, dst, n, imx);
}

#endif /* QF_KERN_KQ_H */
