// The per-shape GEMM library choice: measured once, stable for the process,
// persisted for the next one.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_choice.h"

namespace {

using namespace nabla::kernels;

int g_calls = 0;
double onednn_faster(const GemmShape&, GemmLib lib) {
  ++g_calls;
  return lib == GemmLib::onednn ? 1e-6 : 2e-6;
}
double openblas_faster(const GemmShape&, GemmLib lib) { return lib == GemmLib::onednn ? 2e-6 : 1e-6; }

TEST(GemmChoice, MeasuredOncePersistedAndStable) {
  if (std::getenv("NABLA_GEMM")) GTEST_SKIP() << "NABLA_GEMM forces the library";
  // A shape no workload uses, different in every run (a persisted one would not be measured).
  const int64_t M = 1000 + std::chrono::steady_clock::now().time_since_epoch().count() % 1000003;
  const GemmShape s{true, false, M, 7, 3, 3};
  g_calls = 0;
  EXPECT_EQ(gemm_choice(s, &onednn_faster), GemmLib::onednn);
  EXPECT_EQ(g_calls, 8);  // a warm-up and three timed runs of each library
  EXPECT_EQ(gemm_choice(s, &openblas_faster), GemmLib::onednn);  // decided: the same answer from now on
  std::ifstream f(gemm_choice_path());
  ASSERT_TRUE(f) << gemm_choice_path();
  std::string line, want = "1 0 " + std::to_string(M) + " 7 3 3 onednn";
  bool found = false;
  while (std::getline(f, line)) found = found || line == want;
  EXPECT_TRUE(found) << "'" << want << "' not in " << gemm_choice_path();
}

TEST(GemmChoice, EitherLibraryGivesTheProduct) {
  // 3x2 = [1 2; 3 4; 5 6] times [1; 1] twice over, through gemm's chosen path.
  const float A[6] = {1, 2, 3, 4, 5, 6}, B[4] = {1, 1, 1, 1};
  float C[6] = {};
  gemm(false, false, 3, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
  const float want[6] = {3, 3, 7, 7, 11, 11};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(C[i], want[i]);
}

}  // namespace
