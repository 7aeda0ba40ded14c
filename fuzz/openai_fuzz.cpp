// The OpenAI codec on any stream, body or error body (codec_harness.hpp says what must hold).
#include "codec_harness.hpp"
#include "llm/openai_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return parley::fuzz::run_codec<parley::llm::OpenAiStreamDecoder>(
        data, size, parley::llm::decode_openai_response, parley::llm::decode_openai_error
    );
}
