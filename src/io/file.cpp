#include "nabla/io/file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nabla/tensor/error.h"

namespace nabla::io {

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NABLA_CHECK(f.good(), "cannot open '{}': {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  NABLA_CHECK(!f.bad(), "error reading '{}'", path);
  return ss.str();
}

namespace {

// The temp files of `target` are ".<name>.tmp-<pid>-XXXXXX": a writer killed
// mid-write (SIGKILL, power) leaves its own behind, named by its process id.
std::string temp_prefix(const std::filesystem::path& target) {
  return fmt::format(".{}.tmp-", target.filename().string());
}

// Those of live processes (this one's other threads, another run writing the
// same file) stay: their renames must still find them.
void remove_stale(const std::filesystem::path& dir, const std::filesystem::path& target) {
  namespace fs = std::filesystem;
  const std::string prefix = temp_prefix(target);
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    char* stop = nullptr;
    const long pid = std::strtol(name.c_str() + prefix.size(), &stop, 10);
    if (pid <= 0 || *stop != '-' || pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove(it->path(), ec);
  }
}

}  // namespace

void remove_stale_temps(const std::string& path) {
  std::filesystem::path target(path);
  remove_stale(target.has_parent_path() ? target.parent_path() : std::filesystem::path("."), target);
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  remove_stale(dir, target);
  std::string base = fmt::format("{}{}-XXXXXX", temp_prefix(target), ::getpid());
  std::string tmp = (dir / base).string();
  int fd = ::mkstemp(tmp.data());
  NABLA_CHECK(fd >= 0, "cannot create a temporary file in '{}': {}", dir.string(), std::strerror(errno));
  auto fail = [&](const char* what) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw Error(fmt::format("writing '{}': {} failed: {}", path, what, std::strerror(err)));
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail("fsync");
  if (::fchmod(fd, 0644) != 0) fail("chmod");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    throw Error(fmt::format("writing '{}': close failed: {}", path, std::strerror(errno)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error(fmt::format("writing '{}': rename failed: {}", path, std::strerror(err)));
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);  // makes the rename itself durable
    ::close(dfd);
  }
}

}  // namespace nabla::io
