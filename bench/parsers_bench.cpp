// Throughput of the outbound stream parsers (net/sse_parser, net/ndjson_reader) on recorded
// provider streams repeated into an 8 MiB buffer and fed in chunks the size of typical socket reads
// (the benchmark's argument). Reports bytes/s and events/s (lines/s for NDJSON). Built standalone:
//   g++ -std=c++20 -O2 -I src src/net/sse_parser.cpp src/net/ndjson_reader.cpp
//       bench/parsers_bench.cpp -lbenchmark -lbenchmark_main -pthread -o /tmp/parsers_bench
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <benchmark/benchmark.h>

#include "llm/anthropic_codec.hpp"
#include "llm/gemini_codec.hpp"
#include "llm/openai_codec.hpp"
#include "net/ndjson_reader.hpp"
#include "net/sse_parser.hpp"
#include "support/recorded_streams.hpp"

namespace {

using parley::testing::recorded::kAnthropic;
using parley::testing::recorded::kGeminiLf;
using parley::testing::recorded::kOllama;
using parley::testing::recorded::kOpenAi;
using parley::testing::recorded::to_crlf;

constexpr std::size_t kBufferSize = std::size_t{8} << 20;

std::string repeat(std::string_view recording) {
    std::string out;
    out.reserve(kBufferSize + recording.size());
    while (out.size() < kBufferSize) {
        out.append(recording);
    }
    return out;
}

void run_sse(benchmark::State& state, const std::string& buffer) {
    const auto chunk = static_cast<std::size_t>(state.range(0));
    const std::string_view view = buffer;
    std::size_t events = 0;
    for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the idiom
        parley::net::SseParser parser;
        for (std::size_t i = 0; i < view.size(); i += chunk) {
            const auto out = parser.feed(view.substr(i, chunk));
            events += out.size();
            benchmark::DoNotOptimize(out.data());
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * view.size()));
    state.counters["events"] =
        benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

void sse_openai(benchmark::State& state) {
    static const std::string buffer = repeat(kOpenAi);
    run_sse(state, buffer);
}

void sse_anthropic(benchmark::State& state) {
    static const std::string buffer = repeat(kAnthropic);
    run_sse(state, buffer);
}

void sse_gemini_crlf(benchmark::State& state) {
    static const std::string buffer = repeat(to_crlf(kGeminiLf));
    run_sse(state, buffer);
}

void ndjson_ollama(benchmark::State& state) {
    static const std::string buffer = repeat(kOllama);
    const auto chunk = static_cast<std::size_t>(state.range(0));
    const std::string_view view = buffer;
    std::size_t lines = 0;
    for (auto _ : state) {  // NOLINT(clang-analyzer-deadcode.DeadStores): the idiom
        parley::net::NdjsonReader reader;
        for (std::size_t i = 0; i < view.size(); i += chunk) {
            const auto out = reader.feed(view.substr(i, chunk));
            lines += out.size();
            benchmark::DoNotOptimize(out.data());
        }
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * view.size()));
    // Named as for SSE so the columns line up: for NDJSON an event is a line.
    state.counters["events"] =
        benchmark::Counter(static_cast<double>(lines), benchmark::Counter::kIsRate);
}

}  // namespace

// SSE framing plus the provider's chunk decoding into StreamEvents, one recorded response at a
// time (a decoder serves one response), as a provider sees it.
template <class Decoder, class... Options>
void run_decode(benchmark::State& state, const std::string& recording, Options... options) {
    std::int64_t events = 0;
    for (auto _ : state) {
        parley::net::SseParser parser;
        Decoder decoder(options...);
        for (auto& e : parser.feed(recording)) {
            auto out = decoder.decode(e.event, e.data);
            events += static_cast<std::int64_t>(out.size());
            benchmark::DoNotOptimize(out.data());
        }
    }
    state.SetBytesProcessed(
        static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(recording.size())
    );
    state.counters["events"] =
        benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
}

void decode_openai(benchmark::State& state) {
    run_decode<parley::llm::OpenAiStreamDecoder>(state, std::string(kOpenAi));
}

// An answer of 64 text deltas as OpenAI streams it (the first chunk with the role, 64 chunks of
// text, the finish chunk, the usage chunk, `[DONE]`): the decoder's per-delta cost, with the
// plain-chunk scan (the default) and with every chunk parsed in full. With `escapes`, as in an
// answer of code or Markdown, every other text ends its line (`\n`) and every eighth quotes
// (`\"`).
std::string openai_answer(bool escapes = false) {
    const std::string head =
        R"(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,)"
        R"("model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,)";
    const std::string tail = R"(,"logprobs":null,"finish_reason":null}],"usage":null})"
                             "\n\n";
    std::string out = head + R"("delta":{"role":"assistant","content":""})" + tail;
    for (int k = 1; k <= 64; ++k) {
        std::string text = " token" + std::to_string(k);
        if (escapes && k % 2 == 0) {
            text += R"(\n)";
        }
        if (escapes && k % 8 == 0) {
            text = R"( \"quoted\")" + text;
        }
        out += head + R"("delta":{"content":")" + text + "\"}" + tail;
    }
    out += head + R"("delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})"
                  "\n\n";
    out += R"(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","choices":[],)"
           R"("usage":{"prompt_tokens":9,"completion_tokens":64,"total_tokens":73}})"
           "\n\ndata: [DONE]\n\n";
    return out;
}

void decode_openai_answer64(benchmark::State& state) {
    static const std::string answer = openai_answer();
    run_decode<parley::llm::OpenAiStreamDecoder>(state, answer);
}

void decode_openai_answer64_escapes(benchmark::State& state) {
    static const std::string answer = openai_answer(true);
    run_decode<parley::llm::OpenAiStreamDecoder>(state, answer);
}

void decode_openai_answer64_full_parse(benchmark::State& state) {
    static const std::string answer = openai_answer();
    run_decode<parley::llm::OpenAiStreamDecoder>(
        state, answer, parley::llm::OpenAiStreamDecoder::ChunkScan::off
    );
}

void decode_anthropic(benchmark::State& state) {
    run_decode<parley::llm::AnthropicStreamDecoder>(state, std::string(kAnthropic));
}

void decode_gemini(benchmark::State& state) {
    run_decode<parley::llm::GeminiStreamDecoder>(state, to_crlf(kGeminiLf));
}

BENCHMARK(decode_openai);
BENCHMARK(decode_openai_answer64);
BENCHMARK(decode_openai_answer64_escapes);
BENCHMARK(decode_openai_answer64_full_parse);
BENCHMARK(decode_anthropic);
BENCHMARK(decode_gemini);
BENCHMARK(sse_openai)->Arg(1024)->Arg(16384);
BENCHMARK(sse_anthropic)->Arg(1024)->Arg(16384);
BENCHMARK(sse_gemini_crlf)->Arg(1024)->Arg(16384);
BENCHMARK(ndjson_ollama)->Arg(1024)->Arg(16384);
