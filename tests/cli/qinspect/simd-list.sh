# --simd=list: one level per line, scalar first; an unknown level is bad usage.
qinspect --simd=list | head -1
qinspect --simd=scalar --help >/dev/null && echo scalar accepted
