/* lwrite_int.h - internal contract between the layout writer (libfmt/lwrite.c) and the
 * layout modules' encoders (formats/gptq.c, formats/awq.c). Never installed.
 *
 * Encoders are pure functions on caller-owned buffers. Conventions:
 *  - weights w are a chunk of rows of the Hugging Face [out, in] matrix: row r is output
 *    channel o0 + r, in floats long;
 *  - codes q are uint8 in the same [rows, in] order, zero points z are uint8 [ngroups, out]
 *    and scales float [ngroups, out] (the f16-rounded value that is stored);
 *  - packers OR their fields into a zeroed word buffer (host-order uint32) covering the whole
 *    layer, so a layer is packed chunk of rows by chunk of rows; qfi_lw_store_words turns it
 *    into the little-endian bytes of the file.
 */
#ifndef QF_LWRITE_INT_H
#define QF_LWRITE_INT_H

#include "qf_int.h"

/* ---------------------------------------------------------------------------------------
 * GPTQ (spec gptq.md) */

/* AutoGPTQ Quantizer.find_params (perchannel, mse off) on the n values x[0], x[stride], ...:
 * xmin = min(min x, 0), xmax = max(max x, 0); sym: xmax = max(|xmin|, xmax), xmin = -xmax if
 * xmin < 0; both 0 -> [-1, 1]; scale = (xmax - xmin) / maxq; zero = 2^(b-1) (sym) or
 * round(-xmin / scale) (asym), in f32, ties to even. Non-finite values are ignored. */
QFI_HIDDEN void qfi_gptq_find_params(const float *x, uint64_t n, uint64_t stride, int bits,
                                     int sym, float *scale, int *zero);

/* Inputs ordered by group for an act-order g_idx: perm[goff[g] .. goff[g + 1]) are the inputs
 * of group g in ascending order (counting sort). gidx values must be < ngroups (QF_EFORMAT
 * otherwise). perm has in entries, goff ngroups + 1. */
QFI_HIDDEN int qfi_gptq_group_order(const uint32_t *gidx, uint64_t in, uint64_t ngroups,
                                    uint32_t *perm, uint32_t *goff);

/* Group parameters and codes of rows [o0, o0 + nrows) of a [out, in] layer. Groups are the
 * runs of G = in / ngroups consecutive inputs, or (perm, goff from qfi_gptq_group_order) the
 * groups of an act-order g_idx. Writes scale[g * out + o] (the stored f16 value as f32),
 * zero[g * out + o] and q[r * in + i] = clamp(round(w / s32) + z, 0, maxq), where s32 is the
 * unrounded f32 scale (AutoGPTQ's fake quantization uses it; the packer then keeps those
 * codes). tmp: in floats of scratch. */
QFI_HIDDEN void qfi_gptq_encode_rows(const float *w, uint64_t o0, uint64_t nrows, uint64_t out,
                                     uint64_t in, uint64_t ngroups, const uint32_t *perm,
                                     const uint32_t *goff, int bits, int sym, float *scale,
                                     uint8_t *zero, uint8_t *q, float *tmp);

/* Pack codes q[r * in + i] (rows [o0, o0 + nrows) of [out, in]) into qweight words
 * qw[ceil(in * b / 32)][out] (spec §3). */
QFI_HIDDEN void qfi_gptq_pack_qweight(const uint8_t *q, uint64_t o0, uint64_t nrows,
                                      uint64_t out, uint64_t in, int bits, uint32_t *qw);

/* Pack zero points z[g * out + o] for columns [o0, o0 + n) of every group row into
 * qz[ngroups][ceil(out * b / 32)] (spec §4); v1 stores (z - 1) & maxq (field-wise, never
 * borrowing into a neighbour), v2 stores z. */
QFI_HIDDEN void qfi_gptq_pack_qzeros(const uint8_t *z, uint64_t o0, uint64_t n, uint64_t out,
                                     uint64_t ngroups, int bits, int v1, uint32_t *qz);

/* ---------------------------------------------------------------------------------------
 * AWQ (spec awq.md), 4 bits */

/* AutoAWQ pseudo_quantize_tensor (zero_point=True) over groups of G consecutive inputs of
 * rows [o0, o0 + nrows): scale = max(max - min, 1e-5) / 15, zero = clamp(-round(min / scale),
 * 0, 15), q = clamp(round(w / scale) + zero, 0, 15), all in f32 with the unrounded scale.
 * Writes scale[g * out + o] (the stored f16 value), zero[g * out + o], q[r * in + i]. */
QFI_HIDDEN void qfi_awq_encode_rows(const float *w, uint64_t o0, uint64_t nrows, uint64_t out,
                                    uint64_t in, uint64_t G, float *scale, uint8_t *zero,
                                    uint8_t *q);

/* GEMM: qweight [in][out/8], qzeros [ngroups][out/8], nibble p of word c = column
 * 8c + {0,2,4,6,1,3,5,7}[p]. o0 and nrows are multiples of 8. */
QFI_HIDDEN void qfi_awq_pack_gemm(const uint8_t *q, const uint8_t *z, uint64_t o0,
                                  uint64_t nrows, uint64_t out, uint64_t in, uint64_t ngroups,
                                  uint32_t *qw, uint32_t *qz);

/* GEMV: qweight [out][in/8] (nibble p of word c = input 8c + p), qzeros [out][wz] (nibble p
 * of word c = group 8c + p), scales [out][8 wz] as f16 bits (column g = group g, padding 0). */
QFI_HIDDEN void qfi_awq_pack_gemv(const uint8_t *q, const uint8_t *z, const float *scale,
                                  uint64_t o0, uint64_t nrows, uint64_t out, uint64_t in,
                                  uint64_t ngroups, uint64_t wz, uint32_t *qw, uint32_t *qz,
                                  uint16_t *sc);

/* AutoAWQ calculate_zeros_width: words of GEMV qzeros per output row; 0 if G is not 32, 64
 * or >= 128. */
QFI_HIDDEN uint64_t qfi_awq_gemv_zeros_width(uint64_t in, uint64_t G);

/* ---------------------------------------------------------------------------------------
 * Reading codes back (the lossless repack path): rows [o0, o0 + nrows) of an existing layer's
 * qweight bytes into q[r * in + i]; zero points into zero[g * out + o]. */
#define QF_ERANGE_ZERO 1 /* a GPTQ v1 zero point of 2^bits (the all-ones field) was found */
QFI_HIDDEN void qfi_gptq_unpack_rows(const uint8_t *qw, uint64_t out, uint64_t in, int bits,
                                     uint64_t o0, uint64_t nrows, uint8_t *q);
/* zero points stored + zero_offset; returns QF_ERANGE_ZERO if one does not fit in bits */
QFI_HIDDEN int qfi_gptq_unpack_zeros(const uint8_t *qz, uint64_t out, uint64_t ngroups,
                                     int bits, int zero_offset, uint8_t *zero);
QFI_HIDDEN void qfi_awq_unpack_rows(const uint8_t *qw, int gemv, uint64_t out, uint64_t in,
                                    uint64_t o0, uint64_t nrows, uint8_t *q);
/* sc: the stored scales as f32 ([ngroups, out], GEMV [out, 8 wz]) */
QFI_HIDDEN void qfi_awq_unpack_params(const uint8_t *qz, const float *sc, int gemv,
                                      uint64_t out, uint64_t ngroups, uint64_t wz, float *scale,
                                      uint8_t *zero);

/* ---------------------------------------------------------------------------------------
 * Shared helpers (lwrite.c) */

/* f32 -> f16 bits (round to nearest even, saturating to the largest finite f16) and back. */
QFI_HIDDEN uint16_t qfi_lw_f16(float v);
QFI_HIDDEN float qfi_lw_f16_value(uint16_t h);
/* n host-order words -> little-endian bytes (in place is allowed). */
QFI_HIDDEN void qfi_lw_store_words(const uint32_t *w, uint64_t n, uint8_t *dst);

#endif /* QF_LWRITE_INT_H */
