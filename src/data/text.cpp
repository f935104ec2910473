#include "nabla/data/text.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/json_int.h"
#include "nabla/io/file.h"
#include "nabla/tensor/factory.h"

namespace nabla::data {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is malformed.
size_t utf8_length(const std::string& s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // UTF-16 surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// The characters of `text`: UTF-8 sequences, or single bytes.
template <class F>
void for_each_char(const std::string& text, bool bytes, F&& f) {
  for (size_t i = 0; i < text.size();) {
    size_t n = bytes ? 1 : utf8_length(text, i);
    f(std::string_view(text).substr(i, n), i);
    i += n;
  }
}

std::string printable(const std::string& sym) {
  if (sym.size() == 1 && (static_cast<unsigned char>(sym[0]) < 32 || static_cast<unsigned char>(sym[0]) >= 127))
    return fmt::format("byte 0x{:02x}", static_cast<unsigned char>(sym[0]));
  return fmt::format("'{}'", sym);
}

}  // namespace

bool is_valid_utf8(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_length(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

Vocabulary Vocabulary::from_text(const std::string& text) {
  Vocabulary v;
  v.bytes_ = !is_valid_utf8(text);
  for_each_char(text, v.bytes_, [&](std::string_view c, size_t) {
    if (v.index_.emplace(std::string(c), 0).second) v.symbols_.emplace_back(c);
  });
  // UTF-8 byte order is code point order.
  std::sort(v.symbols_.begin(), v.symbols_.end(), [](const std::string& a, const std::string& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [](char x, char y) { return (unsigned char)x < (unsigned char)y; });
  });
  for (size_t i = 0; i < v.symbols_.size(); ++i) v.index_[v.symbols_[i]] = static_cast<int64_t>(i);
  return v;
}

std::string Vocabulary::to_json() const {
  json j;
  j["unit"] = bytes_ ? "byte" : "utf8";
  json syms = json::array();
  for (const std::string& s : symbols_) {
    if (bytes_) syms.push_back(static_cast<unsigned char>(s[0]));  // a lone byte may not be valid JSON text
    else syms.push_back(s);
  }
  j["symbols"] = syms;
  return j.dump();
}

Vocabulary Vocabulary::from_json(const std::string& text) {
  Vocabulary v;
  try {
    json j = json::parse(text);
    std::string unit = j.at("unit").get<std::string>();
    NABLA_CHECK(unit == "byte" || unit == "utf8", "vocabulary: unknown unit '{}'", unit);
    v.bytes_ = unit == "byte";
    for (const json& s : j.at("symbols")) {
      std::string sym;
      if (v.bytes_) {
        int b = io::json_int<int>(s, "vocabulary: byte");
        NABLA_CHECK(b >= 0 && b < 256, "vocabulary: byte {} out of range", b);
        sym = std::string(1, static_cast<char>(b));
      } else {
        sym = s.get<std::string>();
        NABLA_CHECK(!sym.empty() && utf8_length(sym, 0) == sym.size(), "vocabulary: '{}' is not one character", sym);
      }
      NABLA_CHECK(v.index_.emplace(sym, v.size()).second, "vocabulary: {} appears twice", printable(sym));
      v.symbols_.push_back(sym);
    }
  } catch (const json::exception& e) {
    throw Error(fmt::format("vocabulary: not valid JSON: {}", e.what()));
  }
  NABLA_CHECK(v.size() > 0, "vocabulary: empty");
  return v;
}

std::vector<int64_t> Vocabulary::encode(const std::string& text) const {
  NABLA_CHECK(bytes_ || is_valid_utf8(text), "text is not valid UTF-8, and the vocabulary holds characters");
  std::vector<int64_t> ids;
  ids.reserve(text.size());
  for_each_char(text, bytes_, [&](std::string_view c, size_t at) {
    auto it = index_.find(std::string(c));
    NABLA_CHECK(it != index_.end(), "the character {} (byte offset {}) is not in the vocabulary of {} characters",
                printable(std::string(c)), at, size());
    ids.push_back(it->second);
  });
  return ids;
}

const std::string& Vocabulary::symbol(int64_t id) const {
  NABLA_CHECK(id >= 0 && id < size(), "vocabulary: id {} out of range [0, {})", id, size());
  return symbols_[static_cast<size_t>(id)];
}

std::string Vocabulary::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) out += symbol(id);
  return out;
}

std::shared_ptr<TextCorpus> load_text(const std::string& path, double val_fraction, const Vocabulary* vocab) {
  NABLA_CHECK(val_fraction > 0 && val_fraction < 1, "text: validation fraction must be in (0, 1), got {}",
              val_fraction);
  std::error_code ec;
  NABLA_CHECK(fs::exists(path, ec), "text: '{}' does not exist", path);
  std::string text;
  if (fs::is_directory(path)) {
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(path))
      if (e.is_regular_file() && !e.is_symlink()) files.push_back(e.path().string());  // links repeat a file
    std::sort(files.begin(), files.end());
    NABLA_CHECK(!files.empty(), "text: folder '{}' holds no files", path);
    for (const std::string& f : files) text += io::read_file(f);
  } else {
    text = io::read_file(path);
  }
  NABLA_CHECK(!text.empty(), "text: '{}' is empty", path);
  auto c = std::make_shared<TextCorpus>();
  c->vocab = vocab ? *vocab : Vocabulary::from_text(text);
  c->name = fs::path(path).filename().string();
  std::vector<int64_t> ids = c->vocab.encode(text);
  auto n = static_cast<int64_t>(ids.size());
  auto n_val = static_cast<int64_t>(static_cast<double>(n) * val_fraction);
  // Each part must hold at least one (input, next character) pair.
  NABLA_CHECK(n_val >= 2 && n - n_val >= 2, "text: '{}' has {} characters, too few to split into training and "
              "validation text", path, n);
  c->train = from_vector<int64_t>(std::vector<int64_t>(ids.begin(), ids.end() - n_val));
  c->val = from_vector<int64_t>(std::vector<int64_t>(ids.end() - n_val, ids.end()));
  return c;
}

}  // namespace nabla::data
