// The Gemini codec on any stream, body or error body (codec_harness.hpp says what must hold).
#include "codec_harness.hpp"
#include "llm/gemini_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return parley::fuzz::run_codec<parley::llm::GeminiStreamDecoder>(
        data, size, parley::llm::decode_gemini_response, parley::llm::decode_gemini_error
    );
}
