#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "nabla/io/checkpoint.h"
#include "nabla/io/file.h"
#include "nabla/nabla.h"

using namespace nabla;
namespace fs = std::filesystem;

namespace {
std::string tmpdir() {
  auto d = fs::temp_directory_path() / ("nabla_io_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d.string();
}
}  // namespace

TEST(Safetensors, RoundTripsEveryDtypeAndLayout) {
  io::TensorMap m{{"a", randn({3, 4})},
                  {"b", arange(6.0, DType::i64).reshape({2, 3}).t()},  // non-contiguous: written contiguous
                  {"c", from_vector<uint8_t>({1, 2, 3})},
                  {"d", scalar_tensor(2.5, DType::f64)}};
  std::string bytes = io::to_safetensors(m, {{"k", "v"}});
  uint64_t hl;
  std::memcpy(&hl, bytes.data(), 8);
  EXPECT_EQ((8 + hl) % 8, 0u);
  std::map<std::string, std::string> meta;
  io::TensorMap back = io::from_safetensors(bytes, &meta);
  EXPECT_EQ(meta["k"], "v");
  ASSERT_EQ(back.size(), 4u);
  for (auto& [k, v] : m) {
    EXPECT_EQ(back[k].sizes(), v.sizes()) << k;
    EXPECT_EQ(back[k].dtype(), v.dtype()) << k;
    EXPECT_TRUE(allclose(back[k].to(DType::f64), v.to(DType::f64), 0, 0)) << k;
  }
}

TEST(Safetensors, RejectsTruncatedAndCorruptFiles) {
  std::string good = io::to_safetensors({{"w", randn({10, 10})}});
  EXPECT_THROW(io::from_safetensors(good.substr(0, 5)), Error);
  EXPECT_THROW(io::from_safetensors(good.substr(0, 30)), Error);
  try {
    io::from_safetensors(good.substr(0, good.size() - 4));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  std::string bad_json = good;
  bad_json[8] = '#';
  EXPECT_THROW(io::from_safetensors(bad_json), Error);
  std::string huge = good;
  uint64_t hl = 1ull << 40;
  std::memcpy(huge.data(), &hl, 8);
  EXPECT_THROW(io::from_safetensors(huge), Error);
  auto with_header = [](const std::string& h) {
    std::string s(8, '\0');
    uint64_t n = h.size();
    std::memcpy(s.data(), &n, 8);
    return s + h + std::string(16, '\0');
  };
  EXPECT_THROW(io::from_safetensors(with_header(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}})")),
               Error);  // offsets span 8 bytes, shape needs 16
  EXPECT_THROW(io::from_safetensors(with_header(R"({"w":{"dtype":"C64","shape":[2],"data_offsets":[0,16]}})")), Error);
  EXPECT_THROW(io::from_safetensors(with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})")), Error);
  EXPECT_THROW(io::from_safetensors(with_header(R"({"w":{"dtype":"F32","shape":[2]}})")), Error);
  // A shape whose byte count wraps 64 bits to 0 must not match empty offsets.
  for (const char* h : {R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})",
                        R"({"w":{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,0]}})",
                        R"({"w":{"dtype":"U8","shape":[65536,65536,65536,65536],"data_offsets":[0,0]}})"}) {
    try {
      io::from_safetensors(with_header(h));
      FAIL() << h;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("invalid shape"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(io::from_safetensors(with_header(R"([1, 2])")), Error);
  EXPECT_THROW(io::load_safetensors("/nonexistent/file.safetensors"), Error);
}

// A writer killed mid-write leaves its temp file; the next write of that file
// removes it, and leaves those of live writers (another process's) alone.
TEST(Checkpoint, TempFilesOfKilledWritersAreCleanedUp) {
  std::string dir = tmpdir() + "/stale";
  fs::create_directories(dir);
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);  // a process id that no longer runs
  const std::string dead = dir + "/.last.ckpt.tmp-" + std::to_string(child) + "-abc123";
  const std::string live = dir + "/.last.ckpt.tmp-" + std::to_string(::getppid()) + "-def456";
  const std::string other = dir + "/.best.ckpt.tmp-" + std::to_string(child) + "-ghi789";
  for (const auto& p : {dead, live, other}) std::ofstream(p) << "half a checkpoint";
  io::write_file_atomic(dir + "/last.ckpt", "complete");
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(live));   // its writer (our parent) still runs
  EXPECT_TRUE(fs::exists(other));  // another file's: cleaned when that file is written
  EXPECT_EQ(io::read_file(dir + "/last.ckpt"), "complete");
  io::write_file_atomic(dir + "/best.ckpt", "complete");
  EXPECT_FALSE(fs::exists(other));
  fs::remove_all(dir);
}

TEST(Checkpoint, AtomicWriteKeepsTheOldFileOnFailure) {
  std::string dir = tmpdir();
  std::string path = dir + "/model.ckpt";
  io::Checkpoint ck;
  ck.model = {{"w", ones({3})}};
  ck.meta = {{"epoch", "1"}};
  io::save_checkpoint(path, ck);
  auto first = io::read_file(path);
  // A write that cannot complete (the target is now a directory's child path that is a folder) fails cleanly.
  EXPECT_THROW(io::write_file_atomic(dir + "/no/such/dir/file", "x"), Error);
  // Overwriting keeps exactly one complete file, no temp files left behind.
  ck.meta["epoch"] = "2";
  io::save_checkpoint(path, ck);
  io::Checkpoint back = io::load_checkpoint(path);
  EXPECT_EQ(back.get("epoch"), "2");
  EXPECT_TRUE(allclose(back.model.at("w"), ones({3})));
  int files = 0;
  for (auto& e : fs::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
  EXPECT_THROW(back.get("missing"), Error);
  // A plain safetensors file is not a checkpoint.
  io::save_safetensors(dir + "/plain.safetensors", {{"w", ones({1})}});
  EXPECT_THROW(io::load_checkpoint(dir + "/plain.safetensors"), Error);
  fs::remove_all(dir);
  (void)first;
}
