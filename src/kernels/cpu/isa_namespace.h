#pragma once
// NABLA_ISA names the instruction set a translation unit is compiled for: the
// sources under kernels/cpu/vec/ are compiled once per ISA with
// -DNABLA_ISA=avx2 (and so on) and matching -march flags; every other source is
// `baseline`. Headers whose inline functions such a source includes put them in
// `inline namespace NABLA_ISA`, so each ISA's copy is a distinct symbol and the
// linker can never hand an AVX-512 body to baseline code (an ODR clash that
// would crash on a CPU without AVX-512).
#ifndef NABLA_ISA
#define NABLA_ISA baseline
#endif
