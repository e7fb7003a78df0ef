// Our SentencePiece-style BPE against Google's sentencepiece on a real 32k Llama-2 style model
// (Mistral-7B v0.1's tokenizer.model, see scripts/spm_tokenizer_reference.py): identical ids
// for every text of the shared corpus. SKIPS when python3, sentencepiece or the model are
// unavailable.
#include <gtest/gtest.h>

#include "klab/tokenizer.hpp"
#include "reference_script.hpp"

namespace {

TEST(TokenizerVsSentencePiece, SameIdsOnEveryText) {
  const auto result = klab::test::run_reference_script("spm_tokenizer_reference.py", "");
  if (!result.json) {
    if (!HasFailure()) GTEST_SKIP() << result.skip_reason;
    return;
  }
  const auto& ref = *result.json;
  SCOPED_TRACE("reference seed " + std::to_string(ref["seed"].get<std::int64_t>()));
  const auto& v = ref["vocab"];
  klab::TokenizerData data;
  data.model = "llama";
  data.tokens = v["tokens"].get<std::vector<std::string>>();
  data.scores = v["scores"].get<std::vector<float>>();
  data.token_types = v["types"].get<std::vector<std::int32_t>>();
  data.bos_id = v["bos"];
  data.eos_id = v["eos"];
  data.unk_id = v["unk"];
  data.add_bos = true;
  data.add_space_prefix = true;
  const auto tok = klab::Tokenizer::create(std::move(data));

  const auto texts = ref["texts"].get<std::vector<std::string>>();
  ASSERT_GT(texts.size(), 1000u);
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    // sentencepiece treats "<s>" in the text as text, so special parsing is off here.
    const auto ids = tok.encode(texts[i], /*add_special=*/false, /*parse_special=*/false);
    const auto want = ref["ids"][i].get<std::vector<std::int32_t>>();
    if (ids != want && ++mismatches <= 5)
      ADD_FAILURE() << "text #" << i << " \"" << klab::test::escape_text(texts[i])
                    << "\"\n  ours:          " << klab::test::join_ids(ids)
                    << "\n  sentencepiece: " << klab::test::join_ids(want);
    // Byte fallback makes SentencePiece BPE lossless too (the dummy prefix is dropped).
    EXPECT_EQ(tok.decode(ids), texts[i]) << "round trip of text #" << i;
  }
  EXPECT_EQ(mismatches, 0u) << mismatches << " of " << texts.size() << " texts differ";
  // With BOS, as the model sees a prompt.
  const auto with_bos = tok.encode("Hello world");
  ASSERT_FALSE(with_bos.empty());
  EXPECT_EQ(with_bos.front(), tok.bos_id());
}

}  // namespace
