// Our byte-level BPE tokenizer against HF `tokenizers` on the default model's vocabulary:
// scripts/tokenizer_reference.py writes HF's ids for a large varied corpus (with a fresh random
// part every run), and every text must give exactly the same ids here, for the model's own
// pre-tokenizer and for the other pre-tokenizers we implement.
// SKIPS (never passes) when the model file, python3 or the python packages are missing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "klab/gguf.hpp"
#include "klab/tokenizer.hpp"
#include "reference_script.hpp"
#include "text/pretokenizer.hpp"

namespace fs = std::filesystem;

namespace {

using klab::test::escape_text;
using klab::test::join_ids;

class TokenizerVsHf : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = klab::test::default_model_path();
    if (!fs::exists(model_))
      GTEST_SKIP() << "model not found at " << model_ << " (run scripts/fetch-model.sh)";
    auto result = klab::test::run_reference_script("tokenizer_reference.py",
                                                   "--model '" + model_.string() + "'");
    if (!result.json) {
      if (!HasFailure()) GTEST_SKIP() << result.skip_reason;
      return;
    }
    ref_ = std::move(*result.json);
  }

  fs::path model_;
  nlohmann::json ref_;
};

void expect_same_ids(const std::filesystem::path& model, const nlohmann::json& ref) {
  const auto file = klab::gguf::File::open(model);
  const klab::TokenizerData base = klab::tokenizer_data_from_gguf(file);
  const auto texts = ref["texts"].get<std::vector<std::string>>();
  SCOPED_TRACE("reference seed " + std::to_string(ref["seed"].get<std::int64_t>()));
  ASSERT_GT(texts.size(), 1000u);

  for (const auto& [pre, expected] : ref["results"].items()) {
    klab::TokenizerData data = base;
    data.pre = pre;
    const auto tok = klab::Tokenizer::create(std::move(data));
    std::size_t mismatches = 0, tokens = 0, bytes = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const auto ids = tok.encode(texts[i], /*add_special=*/false, /*parse_special=*/true);
      const auto want = expected[i].get<std::vector<std::int32_t>>();
      tokens += ids.size();
      bytes += texts[i].size();
      if (ids != want && ++mismatches <= 5)
        ADD_FAILURE() << "pre '" << pre << "' text #" << i << " \"" << escape_text(texts[i])
                      << "\"\n  ours: " << join_ids(ids) << "\n  HF:   " << join_ids(want);
      // Byte-level BPE is lossless: decoding gives the text back.
      EXPECT_EQ(tok.decode(ids), texts[i]) << "round trip of text #" << i;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(mismatches, 0u) << "pre '" << pre << "': " << mismatches << " of " << texts.size()
                              << " texts differ from HF tokenizers";
    std::cout << "pre '" << pre << "': " << texts.size() << " texts, " << bytes << " bytes, "
              << tokens << " tokens, all equal to HF: " << (mismatches == 0) << " (" << s
              << " s incl. decode)\n";
  }
}

// The scanners alone against HF's pre-tokenizers (regex engine: Oniguruma), piece by piece;
// this also covers rules the default vocabulary cannot show (e.g. Llama-3's \p{N}{1,3}).
void expect_same_pieces(const nlohmann::json& ref) {
  const auto texts = ref["texts"].get<std::vector<std::string>>();
  SCOPED_TRACE("reference seed " + std::to_string(ref["seed"].get<std::int64_t>()));
  for (const auto& [pre, expected] : ref["pieces"].items()) {
    const auto info = klab::text::pre_tokenizer_for(pre);
    ASSERT_TRUE(info.known) << pre;
    std::size_t mismatches = 0;
    std::vector<std::string_view> pieces;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      pieces.clear();
      klab::text::pretokenize(info.kind, texts[i], pieces);
      std::vector<std::int32_t> lens;
      for (auto p : pieces) lens.push_back(static_cast<std::int32_t>(p.size()));
      const auto want = expected[i].get<std::vector<std::int32_t>>();
      if (lens != want && ++mismatches <= 5)
        ADD_FAILURE() << "pre '" << pre << "' text #" << i << " \"" << escape_text(texts[i])
                      << "\"\n  our piece lengths: " << join_ids(lens)
                      << "\n  HF piece lengths:  " << join_ids(want);
    }
    EXPECT_EQ(mismatches, 0u) << "pre '" << pre << "'";
  }
}

// One test, so the reference script (about 15 s) runs once per ctest run.
TEST_F(TokenizerVsHf, SameIdsAndPiecesAsHfTokenizers) {
  if (ref_.is_null()) return;  // the script failed (reported in SetUp)
  expect_same_pieces(ref_);
  expect_same_ids(model_, ref_);
}

}  // namespace
