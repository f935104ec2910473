#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "nabla/data/readers.h"
#include "nabla/data/text.h"
#include "nabla/io/file.h"
#include "nabla/nabla.h"
#include "support/error_of.h"

using namespace nabla;
using namespace nabla::data;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("nabla_text_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

using nabla::testing::error_of;

}  // namespace

TEST(Vocabulary, AsciiCharactersInByteOrder) {
  Vocabulary v = Vocabulary::from_text("banana bread\n");
  EXPECT_FALSE(v.bytes());
  ASSERT_EQ(v.size(), 8);
  EXPECT_EQ(v.decode({0, 1, 2, 3, 4, 5, 6, 7}), "\n abdenr");
  EXPECT_EQ(v.encode("bad"), (std::vector<int64_t>{3, 2, 4}));
}

TEST(Vocabulary, EncodeDecodeRoundTripsAndIdsFollowCodePoints) {
  std::string text = "héllo wörld — ünïcode ✓\n";
  Vocabulary v = Vocabulary::from_text(text);
  EXPECT_FALSE(v.bytes());
  std::vector<int64_t> ids = v.encode(text);
  EXPECT_EQ(ids.size(), 24u);  // characters, not bytes
  EXPECT_EQ(v.decode(ids), text);
  EXPECT_EQ(v.symbol(0), "\n");
  EXPECT_EQ(v.symbol(v.size() - 1), "✓");  // the highest code point comes last
  for (int64_t i = 1; i < v.size(); ++i) EXPECT_LT(v.symbol(i - 1), v.symbol(i));
}

TEST(Vocabulary, InvalidUtf8IsReadByteByByte) {
  std::string text = std::string("ab\xff\xfe") + "c\xc3";  // stray bytes and a truncated sequence
  EXPECT_FALSE(is_valid_utf8(text));
  Vocabulary v = Vocabulary::from_text(text);
  EXPECT_TRUE(v.bytes());
  EXPECT_EQ(v.size(), 6);
  EXPECT_EQ(v.decode(v.encode(text)), text);
  Vocabulary back = Vocabulary::from_json(v.to_json());
  EXPECT_TRUE(back == v);
}

TEST(Vocabulary, Utf8ValidatorRejectsOverlongAndSurrogates) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xf0\x9f\x98\x80"));     // U+1F600
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));            // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));        // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));        // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));    // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x9c"));            // truncated
}

TEST(Vocabulary, JsonRoundTripAndBadJson) {
  Vocabulary v = Vocabulary::from_text("naïve \"quotes\"\t\n");
  Vocabulary back = Vocabulary::from_json(v.to_json());
  EXPECT_TRUE(back == v);
  EXPECT_EQ(back.encode("naïve"), v.encode("naïve"));
  EXPECT_NE(error_of([] { Vocabulary::from_json("{not json"); }).find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of([] { Vocabulary::from_json(R"({"unit":"utf8","symbols":["a","a"]})"); }).find("twice"),
            std::string::npos);
  EXPECT_NE(error_of([] { Vocabulary::from_json(R"({"unit":"utf8","symbols":["ab"]})"); }).find("one character"),
            std::string::npos);
  EXPECT_NE(error_of([] { Vocabulary::from_json(R"({"unit":"words","symbols":["a"]})"); }).find("unit"),
            std::string::npos);
}

TEST(Vocabulary, UnknownCharacterNamesItAndItsOffset) {
  Vocabulary v = Vocabulary::from_text("abc");
  std::string m = error_of([&] { v.encode("abz"); });
  EXPECT_NE(m.find("'z'"), std::string::npos) << m;
  EXPECT_NE(m.find("offset 2"), std::string::npos) << m;
  EXPECT_NE(error_of([&] { v.decode({0, 3}); }).find("out of range"), std::string::npos);
}

TEST(LoadText, SplitsTheLastTenthForValidation) {
  fs::path d = temp_dir("split");
  std::string text;
  for (int i = 0; i < 100; ++i) text += static_cast<char>('a' + i % 26);
  io::write_file_atomic((d / "t.txt").string(), text);
  auto c = load_text((d / "t.txt").string());
  EXPECT_EQ(c->vocab.size(), 26);
  ASSERT_EQ(c->train.numel(), 90);
  ASSERT_EQ(c->val.numel(), 10);
  std::vector<int64_t> val = c->val.to_vector<int64_t>();
  EXPECT_EQ(c->vocab.decode(val), text.substr(90));
  fs::remove_all(d);
}

TEST(LoadText, FolderJoinsFilesInNameOrderAndSkipsLinks) {
  fs::path d = temp_dir("folder");
  io::write_file_atomic((d / "b.txt").string(), std::string(50, 'b'));
  io::write_file_atomic((d / "a.txt").string(), std::string(50, 'a'));
  fs::create_symlink(d / "a.txt", d / "c-link.txt");
  auto c = load_text(d.string());
  EXPECT_EQ(c->train.numel() + c->val.numel(), 100);
  std::string expected(50, 'a');
  expected.push_back('b');  // not std::string(50, 'a') + "b": GCC 12 warns falsely (-Warray-bounds) on that
  EXPECT_EQ(c->vocab.decode(c->train.to_vector<int64_t>()).substr(0, 51), expected);
  fs::remove_all(d);
}

TEST(LoadText, DataSpecGivesStreamsAndVocabulary) {
  fs::path d = temp_dir("spec");
  io::write_file_atomic((d / "t.txt").string(), std::string(200, 'x') + std::string(200, 'y'));
  Splits s = load_data_spec("text:" + (d / "t.txt").string());
  ASSERT_TRUE(s.text);
  EXPECT_EQ(s.train->size(), 360);
  EXPECT_EQ(s.test->size(), 40);
  EXPECT_EQ(s.train->num_classes(), 2);
  EXPECT_EQ(s.name, "t.txt");
  fs::remove_all(d);
}

TEST(LoadText, BadFilesGiveClearErrors) {
  fs::path d = temp_dir("bad");
  io::write_file_atomic((d / "empty.txt").string(), "");
  io::write_file_atomic((d / "short.txt").string(), "tiny");
  EXPECT_NE(error_of([&] { load_text((d / "empty.txt").string()); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([&] { load_text((d / "short.txt").string()); }).find("too few"), std::string::npos);
  EXPECT_NE(error_of([&] { load_text((d / "missing.txt").string()); }).find("does not exist"), std::string::npos);
  Vocabulary v = Vocabulary::from_text("abc");
  io::write_file_atomic((d / "other.txt").string(), std::string(100, 'q'));
  EXPECT_NE(error_of([&] { load_text((d / "other.txt").string(), 0.1, &v); }).find("not in the vocabulary"),
            std::string::npos);
  fs::remove_all(d);
}
