#include "kernels/cpu/gemm_choice.h"

#include "kernels/cpu/isa.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <tuple>

namespace nabla::kernels {

bool GemmShape::operator<(const GemmShape& o) const {
  return std::tie(ta, tb, M, N, K, threads) < std::tie(o.ta, o.tb, o.M, o.N, o.K, o.threads);
}

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string m = line.substr(colon + 1);
        m.erase(0, m.find_first_not_of(' '));
        if (!m.empty()) return m;
      }
    }
  }
  return "unknown";
}

namespace {

// What the file is keyed by: the model name, and what distinguishes CPUs that
// a hypervisor reports under one name (instruction set, cache sizes).
std::string cpu_key() {
  return cpu_model_name() + "; isa " + isa_name(detected_isa()) + "; L2 " +
         std::to_string(sysconf(_SC_LEVEL2_CACHE_SIZE)) + "; L3 " + std::to_string(sysconf(_SC_LEVEL3_CACHE_SIZE));
}

}  // namespace

std::string gemm_choice_path() {
  std::filesystem::path dir;
  if (const char* d = std::getenv("NABLA_CACHE_DIR"); d && *d)
    dir = d;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    dir = std::filesystem::path(x) / "nabla";
  else if (const char* h = std::getenv("HOME"); h && *h)
    dir = std::filesystem::path(h) / ".cache" / "nabla";
  else
    dir = std::filesystem::temp_directory_path() / "nabla";
  char name[64];
  std::snprintf(name, sizeof name, "gemm-%016zx.txt", std::hash<std::string>{}(cpu_key()));
  return (dir / name).string();
}

namespace {

struct Choices {
  std::mutex mu;
  std::map<GemmShape, GemmLib> table;
  bool loaded = false;
  std::string path;
};

Choices& choices() {
  static Choices* c = new Choices;  // leaked: used until exit, also from exiting threads
  return *c;
}

// Lines "ta tb M N K threads lib" after a "# cpu: MODEL" line; anything else
// (another CPU's file, a damaged line) is ignored: the shape is measured again.
// Entries already in the table win (they are what this process has used).
void merge_file(Choices& c) {
  std::ifstream f(c.path);
  std::string line;
  if (!std::getline(f, line) || line != "# cpu: " + cpu_key()) return;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    int ta, tb, threads;
    long long M, N, K;
    std::string lib;
    if (!(in >> ta >> tb >> M >> N >> K >> threads >> lib) || (lib != "openblas" && lib != "onednn")) continue;
    c.table.emplace(GemmShape{ta != 0, tb != 0, M, N, K, threads},
                    lib == "onednn" ? GemmLib::onednn : GemmLib::openblas);
  }
}

void load(Choices& c) {
  c.loaded = true;
  c.path = gemm_choice_path();
  merge_file(c);
}

// Rewrites the whole file through a temporary and a rename, so a reader never
// sees half of it; a failure (read-only home) only costs a measurement later.
// Processes that measure at once (ctest -j) merge what the others wrote first,
// under an advisory lock, so no entry is lost.
void save(Choices& c) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(c.path).parent_path(), ec);
  const int lock_fd = ::open((c.path + ".lock").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (lock_fd >= 0) ::flock(lock_fd, LOCK_EX);
  merge_file(c);
  const std::string tmp = c.path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) {
      if (lock_fd >= 0) ::close(lock_fd);
      return;
    }
    f << "# cpu: " << cpu_key() << "\n";
    for (const auto& [s, lib] : c.table)
      f << s.ta << ' ' << s.tb << ' ' << s.M << ' ' << s.N << ' ' << s.K << ' ' << s.threads << ' '
        << (lib == GemmLib::onednn ? "onednn" : "openblas") << "\n";
    if (!f.flush()) {
      std::filesystem::remove(tmp, ec);
      if (lock_fd >= 0) ::close(lock_fd);
      return;
    }
  }
  std::filesystem::rename(tmp, c.path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
  if (lock_fd >= 0) ::close(lock_fd);  // releases the lock
}

}  // namespace

GemmLib gemm_choice(const GemmShape& s, double (*measure)(const GemmShape&, GemmLib)) {
  static const int forced = [] {
    const char* e = std::getenv("NABLA_GEMM");
    if (e && std::strcmp(e, "openblas") == 0) return 0;
    if (e && std::strcmp(e, "onednn") == 0) return 1;
    return -1;
  }();
  if (forced >= 0) return forced == 1 ? GemmLib::onednn : GemmLib::openblas;
  Choices& c = choices();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (!c.loaded) load(c);
    auto it = c.table.find(s);
    if (it != c.table.end()) return it->second;
  }
  // Shapes of more than ~4 GFLOP are not worth timing twice over: oneDNN, which
  // is at least as fast as OpenBLAS on large products on every CPU measured.
  if (2.0 * static_cast<double>(s.M) * static_cast<double>(s.N) * static_cast<double>(s.K) > 4e9)
    return GemmLib::onednn;
  // Measured outside the lock (other shapes go on meanwhile); best of three
  // after a warm-up call each, the two libraries alternating.
  double best[2] = {1e30, 1e30};
  for (int rep = 0; rep < 4; ++rep)
    for (GemmLib lib : {GemmLib::openblas, GemmLib::onednn}) {
      const double t = measure(s, lib);
      if (rep > 0 && t < best[static_cast<int>(lib)]) best[static_cast<int>(lib)] = t;
    }
  const GemmLib mine = best[1] < best[0] ? GemmLib::onednn : GemmLib::openblas;
  std::lock_guard<std::mutex> lock(c.mu);
  auto [it, fresh] = c.table.emplace(s, mine);  // another thread may have decided first: its answer stands
  if (fresh) save(c);
  return it->second;
}

}  // namespace nabla::kernels
