#include "llm/gemini_codec.hpp"

#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include "common/json.hpp"
#include "common/strings.hpp"
#include "llm/wire_json.hpp"

namespace parley::llm {

namespace bj = boost::json;

namespace {

// The helpers the three codecs share (llm/wire_json.hpp), by their short names.
using wire::array_field;
using wire::count_field;
using wire::kMaxDepth;
using wire::Malformed;
using wire::object_field;
using wire::parse_or_throw;
using wire::push_text;
using wire::push_thinking;
using wire::string_field;

FinishReason map_finish(std::string_view reason) noexcept {
    if (reason == "MAX_TOKENS") {
        return FinishReason::length;
    }
    if (reason == "SAFETY" || reason == "RECITATION" || reason == "BLOCKLIST" ||
        reason == "PROHIBITED_CONTENT" || reason == "SPII" || reason == "OTHER" ||
        reason == "LANGUAGE" || reason.starts_with("IMAGE_")) {
        return FinishReason::content_filter;
    }
    if (reason == "MALFORMED_FUNCTION_CALL" || reason == "UNEXPECTED_TOOL_CALL" ||
        reason == "TOO_MANY_TOOL_CALLS") {
        return FinishReason::tool_use;
    }
    // STOP, and values added later: the model ended.
    return FinishReason::stop;
}

// A functionCall part as a complete call; `n` is its number in the response (for the generated
// id when the call has none).
ToolCall function_call(const bj::object& part, const bj::object& call, std::size_t n) {
    const auto name = string_field(call, "name");
    if (!name) {
        throw Malformed("a functionCall has no `name`");
    }
    std::string id(string_field(call, "id").value_or(std::string_view{}));
    if (id.empty()) {
        id = wire::generated_call_id(n);
    }
    std::string arguments;
    if (const bj::value* args = call.if_contains("args"); args != nullptr && !args->is_null()) {
        arguments = bj::serialize(*args);
    }
    ToolCall out = wire::complete_tool_call(std::move(id), std::string(*name), arguments);
    // Part-level (Gemini 3); older models put it inside the call.
    auto signature = string_field(part, "thoughtSignature");
    if (!signature) {
        signature = string_field(call, "thoughtSignature");
    }
    out.signature = std::string(signature.value_or(std::string_view{}));
    return out;
}

// Appends the text, thoughts and function calls of one GenerateContentResponse, records its
// usageMetadata and counts its calls; returns the finish reason when this response is the last
// one.
std::optional<FinishReason> decode_chunk(
    const bj::object& chunk,
    std::optional<Usage>& usage,
    std::size_t& calls,
    std::vector<StreamEvent>& out
) {
    if (const bj::object* meta = object_field(chunk, "usageMetadata")) {
        Usage u;
        u.input_tokens = count_field(*meta, "promptTokenCount").value_or(0);
        // Thinking is billed as output.
        u.output_tokens = count_field(*meta, "candidatesTokenCount").value_or(0) +
                          count_field(*meta, "thoughtsTokenCount").value_or(0);
        usage = u;
    }
    std::optional<FinishReason> finish;
    const bj::array* candidates = array_field(chunk, "candidates");
    if (candidates != nullptr && !candidates->empty()) {
        const bj::object* candidate = candidates->front().if_object();
        if (candidate == nullptr) {
            throw Malformed("a candidate is not an object");
        }
        if (const bj::object* content = object_field(*candidate, "content")) {
            if (const bj::array* parts = array_field(*content, "parts")) {
                for (const bj::value& p : *parts) {
                    const bj::object* part = p.if_object();
                    if (part == nullptr) {
                        throw Malformed("a part is not an object");
                    }
                    if (const auto text = string_field(*part, "text")) {
                        const bj::value* thought = part->if_contains("thought");
                        if (thought != nullptr && thought->is_bool() && thought->get_bool()) {
                            push_thinking(out, *text);
                        } else {
                            push_text(out, *text);
                        }
                    }
                    if (const bj::object* call = object_field(*part, "functionCall")) {
                        ++calls;
                        out.push_back(
                            StreamEvent::tool_call_event(function_call(*part, *call, calls))
                        );
                    }
                }
            }
        }
        const auto reason = string_field(*candidate, "finishReason");
        if (reason && *reason != "FINISH_REASON_UNSPECIFIED") {
            finish = map_finish(*reason);
        }
    }
    // A blocked prompt: no candidates, only promptFeedback.blockReason.
    if (!finish) {
        if (const bj::object* feedback = object_field(chunk, "promptFeedback")) {
            const auto block = string_field(*feedback, "blockReason");
            if (block && *block != "BLOCK_REASON_UNSPECIFIED") {
                finish = FinishReason::content_filter;
            }
        }
    }
    // Gemini has no tool-use finish reason: a function call ends with STOP.
    if (finish == FinishReason::stop && calls > 0) {
        finish = FinishReason::tool_use;
    }
    return finish;
}

std::optional<UpstreamError> kind_from_status(std::string_view status) noexcept {
    if (status == "RESOURCE_EXHAUSTED") {
        return UpstreamError::rate_limit;
    }
    if (status == "UNAVAILABLE") {
        return UpstreamError::overloaded;
    }
    if (status == "INVALID_ARGUMENT" || status == "NOT_FOUND" || status == "OUT_OF_RANGE") {
        return UpstreamError::invalid_request;
    }
    // FAILED_PRECONDITION is what Gemini sends when the key's project cannot use the API (free
    // tier unavailable in the region, billing required): another provider can still answer.
    if (status == "PERMISSION_DENIED" || status == "UNAUTHENTICATED" ||
        status == "FAILED_PRECONDITION") {
        return UpstreamError::authentication;
    }
    if (status == "DEADLINE_EXCEEDED") {
        return UpstreamError::timeout;
    }
    if (status == "INTERNAL" || status == "UNKNOWN") {
        return UpstreamError::server;
    }
    return std::nullopt;
}

struct ProviderError {
    std::string message;
    std::optional<UpstreamError> kind;  // from status, or an ErrorInfo reason
    std::optional<int> code;            // the HTTP status Google puts in `code`
};

// Whether the ErrorInfo details say the API key is invalid (Gemini answers 400 INVALID_ARGUMENT
// for a bad key).
bool api_key_invalid(const bj::object& error) {
    const bj::value* details = error.if_contains("details");
    if (details == nullptr || !details->is_array()) {
        return false;
    }
    for (const bj::value& d : details->get_array()) {
        if (!d.is_object()) {
            continue;
        }
        const bj::value* reason = d.get_object().if_contains("reason");
        if (reason != nullptr && reason->is_string() && reason->get_string() == "API_KEY_INVALID") {
            return true;
        }
    }
    return false;
}

// The Google API error `{"error":{code,message,status,details}}` a body or chunk carries, also
// inside a one-element array (the non-SSE streaming endpoint); nullopt when there is none.
std::optional<ProviderError> find_error(const bj::value& body) {
    const bj::value* top = &body;
    if (body.is_array() && !body.get_array().empty()) {
        top = &body.get_array().front();
    }
    if (!top->is_object()) {
        return std::nullopt;
    }
    const bj::value* e = top->get_object().if_contains("error");
    if (e == nullptr || e->is_null()) {
        return std::nullopt;
    }
    ProviderError out;
    if (e->is_string()) {
        out.message = std::string(e->get_string());
        return out;
    }
    if (!e->is_object()) {
        return out;
    }
    const bj::object& error = e->get_object();
    if (const bj::value* m = error.if_contains("message"); m != nullptr && m->is_string()) {
        out.message = std::string(m->get_string());
    }
    if (const bj::value* s = error.if_contains("status"); s != nullptr && s->is_string()) {
        out.kind = kind_from_status(s->get_string());
    }
    if (api_key_invalid(error)) {
        out.kind = UpstreamError::authentication;
    }
    if (const bj::value* c = error.if_contains("code");
        c != nullptr && c->is_int64() && c->get_int64() >= 400 && c->get_int64() < 600) {
        out.code = static_cast<int>(c->get_int64());
    }
    return out;
}

// A mid-stream error: its status, else the HTTP code it names, else server.
StreamEvent stream_failure(const ProviderError& e) {
    UpstreamError kind = UpstreamError::server;
    if (e.kind) {
        kind = *e.kind;
    } else if (e.code) {
        kind = classify_status(*e.code);
    }
    return StreamEvent::failure(
        kind, e.message.empty() ? std::string("upstream reported an error mid-stream") : e.message
    );
}

bool is_schema_key(std::string_view key) noexcept {
    // Gemini's Schema (an OpenAPI 3.0 subset); any other key is a 400 "Unknown name".
    static constexpr std::string_view kKeys[] = {
        "type",          "format",
        "title",         "description",
        "nullable",      "enum",
        "maxItems",      "minItems",
        "properties",    "required",
        "minProperties", "maxProperties",
        "minLength",     "maxLength",
        "pattern",       "example",
        "anyOf",         "items",
        "minimum",       "maximum",
        "default",       "propertyOrdering",
    };
    for (const std::string_view k : kKeys) {
        if (key == k) {
            return true;
        }
    }
    return false;
}

// A JSON Schema cut down to what Gemini accepts (see build_gemini_request).
bj::value gemini_schema(const bj::value& schema) {
    const bj::object* in = schema.if_object();
    if (in == nullptr) {
        return schema;
    }
    bj::object out;
    for (const auto& [key, value] : *in) {
        if (!is_schema_key(key)) {
            continue;
        }
        if (key == "type" && value.is_array()) {
            // ["string", "null"]: Gemini takes one type, nullability apart.
            for (const bj::value& t : value.get_array()) {
                if (t.is_string() && t.get_string() == "null") {
                    out["nullable"] = true;
                } else if (!out.contains("type")) {
                    out["type"] = t;
                }
            }
        } else if (key == "properties" && value.is_object()) {
            bj::object properties;
            for (const auto& [name, property] : value.get_object()) {
                properties[name] = gemini_schema(property);
            }
            out["properties"] = std::move(properties);
        } else if (key == "items") {
            out["items"] = gemini_schema(value);
        } else if (key == "anyOf" && value.is_array()) {
            bj::array any;
            for (const bj::value& alternative : value.get_array()) {
                any.push_back(gemini_schema(alternative));
            }
            out["anyOf"] = std::move(any);
        } else {
            out[key] = value;
        }
    }
    return out;
}

bj::array encode_tools(const std::vector<ToolSpec>& tools) {
    bj::array declarations;
    for (const ToolSpec& t : tools) {
        bj::object declaration{{"name", t.name}};
        if (!t.description.empty()) {
            declaration["description"] = t.description;
        }
        bj::value parameters = gemini_schema(wire::schema_object(t.parameters));
        const bj::value* properties = parameters.get_object().if_contains("properties");
        // "properties: should be non-empty for OBJECT type": a tool without parameters has none.
        if (properties != nullptr && properties->is_object() && !properties->get_object().empty()) {
            declaration["parameters"] = std::move(parameters);
        }
        declarations.push_back(std::move(declaration));
    }
    return bj::array{bj::object{{"functionDeclarations", std::move(declarations)}}};
}

// The name of the tool a result answers: the message's own, else that of the call with its id.
std::string_view tool_name_of(const std::vector<ChatMessage>& history, const ChatMessage& result) {
    if (!result.tool_name.empty()) {
        return result.tool_name;
    }
    for (const ChatMessage& m : history) {
        for (const ToolCall& c : m.tool_calls) {
            if (c.id == result.tool_call_id) {
                return c.name;
            }
        }
    }
    return result.tool_call_id;
}

bj::array encode_contents(const std::vector<ChatMessage>& history) {
    bj::array contents;
    bool open_responses = false;  // the last content is a user turn of function responses
    for (const ChatMessage& m : history) {
        if (m.role == "tool") {
            bj::object part{
                {"functionResponse",
                 bj::object{
                     {"name", tool_name_of(history, m)},
                     {"response", wire::tool_result_object(m.content.view())},
                 }},
            };
            if (open_responses) {
                contents.back().as_object().at("parts").as_array().push_back(std::move(part));
            } else {
                contents.push_back(bj::object{
                    {"role", "user"}, {"parts", bj::array{std::move(part)}}});
                open_responses = true;
            }
            continue;
        }
        open_responses = false;
        const bool model = m.role == "assistant" || m.role == "model";
        bj::array parts;
        if (!model || m.tool_calls.empty() || !m.content.empty()) {
            parts.push_back(bj::object{{"text", m.content.view()}});
        }
        if (model) {
            for (const ToolCall& c : m.tool_calls) {
                bj::object part{
                    {"functionCall",
                     bj::object{{"name", c.name}, {"args", wire::arguments_object(c.arguments)}}},
                };
                if (!c.signature.empty()) {
                    part["thoughtSignature"] = c.signature;
                }
                parts.push_back(std::move(part));
            }
        }
        contents.push_back(bj::object{
            {"role", model ? "model" : "user"}, {"parts", std::move(parts)}});
    }
    return contents;
}

}  // namespace

// `stream` does not change the body: streaming is chosen by the URL (`:streamGenerateContent`).
std::string build_gemini_request(const ChatRequest& r, bool /*stream*/) {
    bj::object body;
    body["contents"] = encode_contents(r.messages);
    if (!r.tools.empty()) {
        body["tools"] = encode_tools(r.tools);
    }
    if (!r.system.empty()) {
        body["systemInstruction"] =
            bj::object{{"parts", bj::array{bj::object{{"text", r.system}}}}};
    }
    bj::object config;
    config["maxOutputTokens"] = r.max_tokens;
    if (r.temperature) {
        config["temperature"] = *r.temperature;
    }
    if (!r.stop.empty()) {
        config["stopSequences"] = bj::value_from(r.stop);
    }
    if (r.thinking) {
        config["thinkingConfig"] =
            bj::object{{"includeThoughts", true}, {"thinkingBudget", r.thinking_budget}};
    }
    body["generationConfig"] = std::move(config);
    return bj::serialize(body);
}

void GeminiStreamDecoder::decode(
    std::string_view /*event*/, std::string_view data, std::vector<StreamEvent>& out
) {
    out.clear();
    if (done_ || trim(data).empty()) {
        return;
    }
    try {
        const bj::value value = parse_or_throw(data);
        if (auto e = find_error(value)) {
            out.push_back(stream_failure(*e));
            done_ = true;
            return;
        }
        const bj::object* chunk = value.if_object();
        if (chunk == nullptr) {
            throw Malformed("chunk is not a JSON object");
        }
        // `out` holds nothing yet: a shape error half-way leaves only the failure (see catch).
        if (const auto finish = decode_chunk(*chunk, usage_, calls_, out)) {
            if (usage_) {
                out.push_back(StreamEvent::usage_event(*usage_));
            }
            out.push_back(StreamEvent::stop(*finish));
            done_ = true;
        }
    } catch (const Malformed& e) {
        out.clear();
        out.push_back(StreamEvent::failure(
            UpstreamError::malformed, std::string("malformed stream chunk: ") + e.what()
        ));
        done_ = true;
    }
}

std::vector<StreamEvent> GeminiStreamDecoder::finish() {
    std::vector<StreamEvent> out;
    if (done_) {
        return out;
    }
    done_ = true;
    out.push_back(
        StreamEvent::failure(UpstreamError::connection, "the stream ended before it was complete")
    );
    return out;
}

Result<std::vector<StreamEvent>> decode_gemini_response(std::string_view body) {
    std::vector<StreamEvent> out;
    try {
        const bj::value value = parse_or_throw(body);
        if (auto e = find_error(value)) {
            out.push_back(stream_failure(*e));
            return out;
        }
        const bj::object* response = value.if_object();
        if (response == nullptr) {
            throw Malformed("response is not a JSON object");
        }
        std::optional<Usage> usage;
        std::size_t calls = 0;
        const auto finish = decode_chunk(*response, usage, calls, out);
        if (usage) {
            out.push_back(StreamEvent::usage_event(*usage));
        }
        out.push_back(StreamEvent::stop(
            finish.value_or(calls > 0 ? FinishReason::tool_use : FinishReason::stop)
        ));
    } catch (const Malformed& e) {
        return wire::unreadable_response("Gemini", e);
    }
    return out;
}

StreamEvent decode_gemini_error(
    int status, std::string_view body, std::optional<std::chrono::seconds> retry_after
) {
    return wire::http_error_from_body(status, body, retry_after, [](const bj::value& v) {
        return find_error(v);
    });
}

}  // namespace parley::llm
