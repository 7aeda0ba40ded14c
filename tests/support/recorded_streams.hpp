// Provider streams recorded byte for byte, shared by the parser tests and the parser benchmark:
// an Anthropic Messages stream, an OpenAI chat.completion.chunk stream, a Gemini alt=sse stream
// (written with LF; to_crlf gives the CRLF it is sent with) and an Ollama NDJSON stream.
#pragma once

#include <string>
#include <string_view>

namespace parley::testing::recorded {

// NOLINTBEGIN(readability-identifier-naming)
// The same recordings as tests/unit/net/*_test.cpp.
constexpr std::string_view kAnthropic = R"sse(event: message_start
data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":6}}

event: message_stop
data: {"type":"message_stop"}

)sse";

constexpr std::string_view kOpenAi =
    R"sse(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{"content":" world"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}

data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini","system_fingerprint":"fp_44709d6fcb","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}

data: [DONE]

)sse";

// Gemini's lines end in CRLF; each LF of this text becomes CRLF in gemini().
constexpr std::string_view kGeminiLf =
    R"sse(data: {"candidates": [{"content": {"parts": [{"text": "¡Hola"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},"modelVersion": "gemini-2.0-flash"}

data: {"candidates": [{"content": {"parts": [{"text": "! 👋 ¿Qué tal?"}],"role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 8,"totalTokenCount": 8},"modelVersion": "gemini-2.0-flash"}

data: {"candidates": [{"content": {"parts": [{"text": ""}],"role": "model"},"finishReason": "STOP","index": 0}],"usageMetadata": {"promptTokenCount": 8,"candidatesTokenCount": 9,"totalTokenCount": 17},"modelVersion": "gemini-2.0-flash"}

)sse";

// Ollama /api/chat, `"stream": true`: one JSON object a line, the last with `"done": true`.
constexpr std::string_view kOllama =
    R"ndjson({"model":"llama3.2","created_at":"2024-07-22T20:33:28.123648Z","message":{"role":"assistant","content":"Hello"},"done":false}
{"model":"llama3.2","created_at":"2024-07-22T20:33:28.234951Z","message":{"role":"assistant","content":" w\u00f6rld 👋"},"done":false}
{"model":"llama3.2","created_at":"2024-07-22T20:33:28.301482Z","message":{"role":"assistant","content":"!"},"done":false}
{"model":"llama3.2","created_at":"2024-07-22T20:33:28.412303Z","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,"prompt_eval_duration":342546000,"eval_count":3,"eval_duration":4535599000}
)ndjson";

// NOLINTEND(readability-identifier-naming)

// `text` with every LF turned into CRLF.
inline std::string to_crlf(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c == '\n') {
            out += '\r';
        }
        out += c;
    }
    return out;
}

}  // namespace parley::testing::recorded
