#pragma once
// Time-series classification data: the UCR/UEA archives' files and the
// archive's synthetic data sets.
//
// A data set of series is a TensorDataset whose inputs are [N, C, L] (f32): C
// channels (1 for a univariate set), L the longest series. A shorter series is
// padded at its end with NaN, as the UCR archive pads its files; series_lengths()
// recovers each series' own length, and the time-series transforms (models/rocket.h)
// read only that much of it.
#include <string>
#include <vector>

#include "nabla/data/dataset.h"

namespace nabla::data {

/// The series of one file and their labels as the file spells them.
struct SeriesFile {
  Tensor values;                    ///< [N, C, L] f32, NaN-padded
  std::vector<std::string> labels;  ///< N labels
};

/// A UCR 2018 `.tsv` file: one series a line, its class label first, then its
/// values separated by tabs (commas are accepted, as in the 2015 archive's
/// files); NaN (or an empty field) after the last value pads a shorter series.
SeriesFile read_ucr_tsv(const std::string& path);

/// sktime's `.ts` format: `@` header lines (`@problemName`, `@timeStamps false`,
/// `@univariate`, `@dimensions`, `@equalLength`, `@seriesLength`, `@classLabel true
/// LABELS...`, `@data`; `#` comments), then one case a line: its dimensions
/// separated by `:`, values by `,`, the class label last; `?` is a missing value
/// (NaN). Univariate or multivariate, equal or unequal lengths; time stamps and
/// files without class labels are refused with a clear error.
SeriesFile read_ts(const std::string& path);

/// A train/test pair from a folder laid out as the archives lay out one data
/// set: NAME_TRAIN.tsv and NAME_TEST.tsv, or NAME_TRAIN.ts and NAME_TEST.ts.
/// Labels of both files map to 0..K-1 in sorted order (numeric order when all
/// are numbers); the Splits' `classes` keep the names.
Splits load_ucr_dir(const std::string& dir);

/// The length of each series of x [N, C, L] before its NaN padding: one past
/// the last step at which any channel has a value. [N] i64.
Tensor series_lengths(const Tensor& x);

/// Cylinder-Bell-Funnel (Saito 1994): length 128, classes cylinder, bell,
/// funnel; a ~ U{16..32}, b - a ~ U{32..96}, amplitude 6 + N(0, 1), noise N(0, 1)
/// at every step. The archive's sizes: 30 train, 900 test.
Splits cylinder_bell_funnel(uint64_t seed = 0, int64_t n_train = 30, int64_t n_test = 900);

/// Synthetic Control Charts (Alcock & Manolopoulos 1999): length 60, classes
/// normal, cyclic, increasing trend, decreasing trend, upward shift, downward
/// shift; m = 30, noise s r(t) with s = 2, r ~ U(-3, 3); cycle amplitude and
/// period U(10, 15); trend slope U(0.2, 0.5); shift U(7.5, 20) from t ~ U(n/3, 2n/3).
/// The archive's sizes: 300 train, 300 test.
Splits synthetic_control(uint64_t seed = 0, int64_t n_train = 300, int64_t n_test = 300);

/// Two Patterns (after Geurts 2002): length 128, N(0, 1) noise in which two
/// patterns sit in order, each an upward step (-5 then +5) or a downward step
/// (+5 then -5), the first in the first half, the second in the second half,
/// each of length U{16..32} at a uniform position; the four classes are
/// down-down, up-down, down-up, up-up. The archive's sizes: 1000 train, 4000 test.
/// (The generator follows the published description; the archive's own files
/// load with load_ucr_dir for exact comparisons.)
Splits two_patterns(uint64_t seed = 0, int64_t n_train = 1000, int64_t n_test = 4000);

/// Grayscale images [N, 1, H, W] (u8) as multivariate series [N, H, W] (f32 in
/// [0, 1]): row r is channel r, the columns are the time steps.
Splits images_as_series(const Splits& images);

/// The time-series specs of --data: "ucr:DIR", "cbf", "synthetic-control",
/// "two-patterns", "fashion-mnist-series"; the synthetic ones take ":SEED".
/// Returns false (s untouched) for a spec of another kind.
bool load_series_spec(const std::string& spec, Splits* s);

}  // namespace nabla::data
