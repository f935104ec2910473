#pragma once
// Text for character-level language models: a vocabulary built from the text,
// and the text as one stream of ids split into training and validation parts.
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "nabla/tensor/tensor.h"

namespace nabla::data {

/// The characters of a text, each with an id (in order of code point or byte
/// value, so the same text always gives the same ids). A text that is valid
/// UTF-8 is read as Unicode characters; any other is read byte by byte.
class Vocabulary {
 public:
  Vocabulary() = default;
  /// Every distinct character of `text`.
  static Vocabulary from_text(const std::string& text);
  /// Reads what to_json() wrote (kept in checkpoints so generation needs no text file).
  static Vocabulary from_json(const std::string& json);
  std::string to_json() const;

  /// Ids of the characters of `text`; a character outside the vocabulary is an
  /// Error naming it and its position.
  std::vector<int64_t> encode(const std::string& text) const;
  /// The text of `ids`; an id outside [0, size()) is an Error.
  std::string decode(const std::vector<int64_t>& ids) const;
  /// One character's text.
  const std::string& symbol(int64_t id) const;
  int64_t size() const { return static_cast<int64_t>(symbols_.size()); }
  /// True when the text was read byte by byte (it was not valid UTF-8).
  bool bytes() const { return bytes_; }
  bool operator==(const Vocabulary& o) const { return bytes_ == o.bytes_ && symbols_ == o.symbols_; }

 private:
  std::vector<std::string> symbols_;
  std::unordered_map<std::string, int64_t> index_;
  bool bytes_ = false;
};

/// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or truncated sequences).
bool is_valid_utf8(const std::string& text);

/// A text as ids: the first (1 - val_fraction) of it for training, the rest for validation.
struct TextCorpus {
  Vocabulary vocab;
  Tensor train;  ///< [L_train] i64
  Tensor val;    ///< [L_val] i64
  std::string name;
};

/// Reads `path` (a file, or a folder whose files, not links, are read in name
/// order and joined) and splits it at a character boundary. With `vocab`
/// the text is encoded with it (a checkpoint's); otherwise the vocabulary
/// is built from the whole text. Errors on an empty text or one too short to split.
std::shared_ptr<TextCorpus> load_text(const std::string& path, double val_fraction = 0.1,
                                      const Vocabulary* vocab = nullptr);

}  // namespace nabla::data
