// The Anthropic codec on any stream, body or error body (codec_harness.hpp says what must hold).
#include "codec_harness.hpp"
#include "llm/anthropic_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return parley::fuzz::run_codec<parley::llm::AnthropicStreamDecoder>(
        data, size, parley::llm::decode_anthropic_response, parley::llm::decode_anthropic_error
    );
}
