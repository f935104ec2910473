#include "nabla/io/safetensors.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "nabla/io/file.h"
#include "nabla/tensor/factory.h"

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace nabla::io {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeader = 100ull << 20;  // the format's own limit: 100 MB

// The format's dtype names, as the reference implementation writes them.
constexpr std::pair<DType, const char*> kNames[] = {
    {DType::f32, "F32"},      {DType::f64, "F64"},   {DType::bf16, "BF16"}, {DType::f16, "F16"}, {DType::i64, "I64"},
    {DType::i32, "I32"},      {DType::i8, "I8"},     {DType::u8, "U8"},     {DType::boolean, "BOOL"}};

const char* st_dtype(DType t) {
  for (const auto& [d, n] : kNames)
    if (d == t) return n;
  return "?";
}

DType parse_dtype(const std::string& s, const std::string& name, const std::string& source) {
  for (const auto& [d, n] : kNames)
    if (s == n) return d;
  throw Error(fmt::format("safetensors '{}': tensor '{}' has unsupported dtype {} (supported: F32, F64, BF16, F16, "
                          "I64, I32, I8, U8, BOOL)",
                          source, name, s));
}

}  // namespace

std::string to_safetensors(const TensorMap& tensors, const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    NABLA_CHECK(name != "__metadata__", "safetensors: '__metadata__' cannot be a tensor name");
    uint64_t n = static_cast<uint64_t>(t.numel()) * dtype_size(t.dtype());
    header[name] = {{"dtype", st_dtype(t.dtype())}, {"shape", t.sizes()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
  }
  std::string h = header.dump();
  // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  std::string out(8, '\0');
  uint64_t hl = h.size();
  std::memcpy(out.data(), &hl, 8);
  out += h;
  out.reserve(out.size() + offset);
  for (const auto& [name, t] : tensors) {
    const Tensor c = t.detach().contiguous();
    out.append(static_cast<const char*>(c.raw_data()), static_cast<size_t>(c.numel()) * dtype_size(c.dtype()));
  }
  return out;
}

TensorMap from_safetensors(const std::string& bytes, std::map<std::string, std::string>* metadata,
                           const std::string& source) {
  NABLA_CHECK(bytes.size() >= 8, "safetensors '{}': file is {} bytes, too short for the 8-byte header length",
              source, bytes.size());
  uint64_t hl;
  std::memcpy(&hl, bytes.data(), 8);
  NABLA_CHECK(hl <= kMaxHeader && hl <= bytes.size() - 8,
              "safetensors '{}': header length {} exceeds the file ({} bytes): truncated or not a safetensors file",
              source, hl, bytes.size());
  json header;
  try {
    header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(hl));
  } catch (const json::exception& e) {
    throw Error(fmt::format("safetensors '{}': header is not valid JSON: {}", source, e.what()));
  }
  NABLA_CHECK(header.is_object(), "safetensors '{}': header must be a JSON object", source);
  const uint64_t data_size = bytes.size() - 8 - hl;
  const char* data = bytes.data() + 8 + hl;
  TensorMap out;
  try {
    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      if (name == "__metadata__") {
        if (metadata)
          for (auto m = it->begin(); m != it->end(); ++m) (*metadata)[m.key()] = m->get<std::string>();
        continue;
      }
      const json& e = *it;
      NABLA_CHECK(e.is_object() && e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"),
                  "safetensors '{}': entry '{}' lacks dtype, shape or data_offsets", source, name);
      DType dt = parse_dtype(e["dtype"].get<std::string>(), name, source);
      Shape shape = e["shape"].get<Shape>();
      // Checked before the bytes are trusted: a product that wrapped could match the offsets.
      const std::optional<int64_t> n = checked_numel(shape, static_cast<int64_t>(dtype_size(dt)));
      NABLA_CHECK(n, "safetensors '{}': tensor '{}' has an invalid shape {} (a negative size, or more bytes than "
                  "64 bits count)", source, name, shape_str(shape));
      const uint64_t numel = static_cast<uint64_t>(*n);
      auto offs = e["data_offsets"].get<std::vector<uint64_t>>();
      NABLA_CHECK(offs.size() == 2 && offs[0] <= offs[1], "safetensors '{}': tensor '{}' has invalid data_offsets",
                  source, name);
      NABLA_CHECK(offs[1] <= data_size,
                  "safetensors '{}': tensor '{}' ends at byte {} but the data section holds {} bytes (truncated file?)",
                  source, name, offs[1], data_size);
      NABLA_CHECK(offs[1] - offs[0] == numel * dtype_size(dt),
                  "safetensors '{}': tensor '{}' {} {} needs {} bytes but its offsets span {}", source, name,
                  st_dtype(dt), shape_str(shape), numel * dtype_size(dt), offs[1] - offs[0]);
      Tensor t = Tensor::empty(shape, dt);
      if (numel) std::memcpy(t.raw_data(), data + offs[0], offs[1] - offs[0]);
      if (dt == DType::boolean) {  // a byte other than 0 or 1 is no C++ bool: read it as nonzero = true
        auto* p = static_cast<uint8_t*>(t.raw_data());
        for (uint64_t i = 0; i < numel; ++i) p[i] = p[i] != 0;
      }
      out.emplace(name, std::move(t));
    }
  } catch (const json::exception& e) {
    throw Error(fmt::format("safetensors '{}': malformed header: {}", source, e.what()));
  }
  return out;
}

void save_safetensors(const std::string& path, const TensorMap& tensors,
                      const std::map<std::string, std::string>& metadata) {
  write_file_atomic(path, to_safetensors(tensors, metadata));
}

TensorMap load_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  return from_safetensors(read_file(path), metadata, path);
}

}  // namespace nabla::io
