#include "compat/anthropic.hpp"

#include <map>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/json.hpp"
#include "messages/stream_format.hpp"

namespace parley::compat {

namespace bj = boost::json;

namespace {

constexpr std::int64_t kMinThinkingBudget = 1024;  // the API's own minimum

const bj::string* string_field(const bj::object& o, std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

// The text of a string or an array of text blocks (`system`, a tool_result's `content`).
Result<std::string> text_of(const bj::value& v, std::string_view where) {
    if (v.is_string()) {
        return std::string(v.as_string());
    }
    if (!v.is_array()) {
        return invalid("`" + std::string(where) + "` must be a string or an array of text blocks");
    }
    std::string out;
    for (const auto& b : v.as_array()) {
        const auto* o = b.if_object();
        const auto* type = o != nullptr ? string_field(*o, "type") : nullptr;
        const auto* text = o != nullptr ? string_field(*o, "text") : nullptr;
        if (type == nullptr || *type != "text" || text == nullptr) {
            return invalid("`" + std::string(where) + "` blocks must be text blocks");
        }
        if (!out.empty()) {
            out += "\n\n";
        }
        out += *text;
    }
    return out;
}

// One message's blocks into the provider layer's messages: an assistant turn becomes one message
// with its text and tool calls; a user turn becomes a tool message per tool_result, then one user
// message with its text (if any).
Result<void> decode_message(
    const bj::object& m,
    std::string_view where,
    std::map<std::string, std::string>& call_names,
    llm::ChatRequest& r
) {
    if (auto ok = json::reject_unknown_fields(m, {"role", "content"}); !ok) {
        return invalid("`" + std::string(where) + "`: " + ok.error().message);
    }
    const auto* role = string_field(m, "role");
    if (role == nullptr || (*role != "user" && *role != "assistant")) {
        return invalid("`" + std::string(where) + ".role` must be user or assistant");
    }
    const bool assistant = *role == "assistant";
    const auto* content = m.if_contains("content");
    if (content == nullptr) {
        return invalid("`" + std::string(where) + ".content` is required");
    }
    if (content->is_string()) {
        r.messages.push_back({std::string(*role), std::string(content->as_string())});
        return {};
    }
    if (!content->is_array()) {
        return invalid(
            "`" + std::string(where) + ".content` must be a string or an array of blocks"
        );
    }
    llm::ChatMessage turn{std::string(*role), ""};
    std::size_t i = 0;
    for (const auto& entry : content->as_array()) {
        const std::string at = std::string(where) + ".content[" + std::to_string(i++) + "]";
        const auto* b = entry.if_object();
        const auto* type = b != nullptr ? string_field(*b, "type") : nullptr;
        if (type == nullptr) {
            return invalid("`" + at + "` needs a `type`");
        }
        if (*type == "text") {
            const auto* text = string_field(*b, "text");
            if (text == nullptr) {
                return invalid("`" + at + ".text` must be a string");
            }
            turn.content += *text;
        } else if (*type == "tool_use" && assistant) {
            const auto* id = string_field(*b, "id");
            const auto* name = string_field(*b, "name");
            const auto* input = b->if_contains("input");
            if (id == nullptr || name == nullptr || input == nullptr || !input->is_object()) {
                return invalid("`" + at + "` needs an `id`, a `name` and an `input` object");
            }
            call_names[std::string(*id)] = std::string(*name);
            llm::ToolCall call;
            call.id = std::string(*id);
            call.name = std::string(*name);
            call.arguments = bj::serialize(*input);
            turn.tool_calls.push_back(std::move(call));
        } else if (*type == "tool_result" && !assistant) {
            const auto* id = string_field(*b, "tool_use_id");
            if (id == nullptr) {
                return invalid("`" + at + ".tool_use_id` is required");
            }
            const auto name = call_names.find(std::string(*id));
            if (name == call_names.end()) {
                return invalid(
                    "`" + at + ".tool_use_id` answers no tool_use of an earlier message"
                );
            }
            std::string result;
            if (const auto* c = b->if_contains("content"); c != nullptr) {
                auto text = text_of(*c, at + ".content");
                if (!text) {
                    return text.error();
                }
                result = std::move(*text);
            }
            llm::ChatMessage answer{"tool", std::move(result)};
            answer.tool_call_id = name->first;
            answer.tool_name = name->second;
            r.messages.push_back(std::move(answer));
        } else if ((*type == "thinking" || *type == "redacted_thinking") && assistant) {
            // Earlier reasoning is not sent back: Parley asks without a signed thinking block.
        } else {
            return invalid(
                "content blocks of type `" + std::string(*type) + "` are not supported in " +
                std::string(*role) + " messages"
            );
        }
    }
    if (assistant || !turn.content.empty()) {
        r.messages.push_back(std::move(turn));
    }
    return {};
}

// One custom tool: {name, description?, input_schema}.
Result<llm::ToolSpec> decode_tool(const bj::value& entry, const std::string& where) {
    const auto* t = entry.if_object();
    if (t == nullptr) {
        return invalid("`" + where + "` must be an object");
    }
    if (const auto* type = string_field(*t, "type"); type != nullptr && *type != "custom") {
        return invalid("server tools (`" + std::string(*type) + "`) are not supported");
    }
    if (auto ok = json::reject_unknown_fields(
            *t, {"type", "name", "description", "input_schema", "cache_control"}
        );
        !ok) {
        return invalid("`" + where + "`: " + ok.error().message);
    }
    if (t->if_contains("input_schema") == nullptr) {
        return invalid("`" + where + ".input_schema` is required");
    }
    return tool_spec(
        where, t->if_contains("name"), t->if_contains("description"), t->if_contains("input_schema")
    );
}

Result<void> decode_thinking(const bj::value& v, const llm::ModelInfo& model, llm::ChatRequest& r) {
    const auto* o = v.if_object();
    const auto* type = o != nullptr ? string_field(*o, "type") : nullptr;
    if (type == nullptr || (*type != "enabled" && *type != "disabled")) {
        return invalid("`thinking.type` must be enabled or disabled");
    }
    if (*type == "disabled") {
        return {};
    }
    auto budget = json::optional_int(*o, "budget_tokens");
    if (!budget) {
        return budget.error();
    }
    if (!*budget || **budget < kMinThinkingBudget || **budget >= r.max_tokens) {
        return invalid("`thinking.budget_tokens` must be at least 1024 and less than `max_tokens`");
    }
    // A model without visible reasoning answers without it, as the conversation routes do.
    r.thinking = model.thinking;
    r.thinking_budget = static_cast<int>(**budget);
    return {};
}

}  // namespace

Result<DecodedCall> decode_messages_request(
    const bj::object& body, const llm::ModelRouter& router, AnthropicBody kind
) {
    const bool count = kind == AnthropicBody::count_tokens;
    const auto fields =
        count ? json::reject_unknown_fields(
                    body, {"model", "messages", "system", "tools", "tool_choice", "thinking"}
                )
              : json::reject_unknown_fields(
                    body,
                    {"model",
                     "messages",
                     "system",
                     "max_tokens",
                     "stream",
                     "temperature",
                     "stop_sequences",
                     "thinking",
                     "tools",
                     "tool_choice",
                     "metadata"}
                );
    if (!fields) {
        return fields.error();
    }
    auto decoded = call_to_model(body, router);
    if (!decoded) {
        return decoded.error();
    }
    DecodedCall d = std::move(*decoded);
    const llm::ModelInfo& model = *d.call.model;
    llm::ChatRequest& r = d.call.request;
    if (!count) {
        auto n = json::optional_int(body, "max_tokens");
        if (!n) {
            return n.error();
        }
        if (!*n) {
            return invalid("`max_tokens` is required");
        }
        auto checked = max_tokens(**n, model, "max_tokens");
        if (!checked) {
            return checked.error();
        }
        r.max_tokens = *checked;
    }
    if (const auto* system = body.if_contains("system"); system != nullptr) {
        auto text = text_of(*system, "system");
        if (!text) {
            return text.error();
        }
        r.system = std::move(*text);
    }
    const auto* list = body.if_contains("messages");
    if (list == nullptr || !list->is_array() || list->as_array().empty()) {
        return invalid("`messages` must be a non-empty array");
    }
    std::map<std::string, std::string> call_names;
    std::size_t i = 0;
    for (const auto& m : list->as_array()) {
        const std::string where = "messages[" + std::to_string(i++) + "]";
        if (!m.is_object()) {
            return invalid("`" + where + "` must be an object");
        }
        if (auto ok = decode_message(m.as_object(), where, call_names, r); !ok) {
            return ok.error();
        }
    }
    auto stream = json::optional_bool(body, "stream");
    if (!stream) {
        return stream.error();
    }
    d.stream = stream->value_or(false);
    if (const auto* t = body.if_contains("temperature"); t != nullptr) {
        auto temperature = number_in(*t, "temperature", 0, 1);
        if (!temperature) {
            return temperature.error();
        }
        r.temperature = *temperature;
    }
    if (const auto* stop = body.if_contains("stop_sequences")) {
        auto s = stop_sequences(*stop, "stop_sequences", false);
        if (!s) {
            return s.error();
        }
        r.stop = std::move(*s);
    }
    if (const auto* thinking = body.if_contains("thinking"); thinking != nullptr) {
        if (count) {
            r.max_tokens = model.max_output > kMinThinkingBudget
                               ? static_cast<int>(model.max_output)
                               : r.max_tokens;
        }
        if (auto ok = decode_thinking(*thinking, model, r); !ok) {
            return ok.error();
        }
    }
    if (const auto* tools = body.if_contains("tools"); tools != nullptr) {
        if (auto ok = decode_tool_list(*tools, r, decode_tool); !ok) {
            return ok.error();
        }
    }
    if (const auto* choice = body.if_contains("tool_choice"); choice != nullptr) {
        const auto* o = choice->if_object();
        const auto* type = o != nullptr ? string_field(*o, "type") : nullptr;
        if (type == nullptr || (*type != "auto" && *type != "none")) {
            return invalid(
                "`tool_choice.type` must be auto or none (forcing a tool is not supported)"
            );
        }
        if (*type == "none") {
            r.tools.clear();
        }
    }
    if (const auto* metadata = body.if_contains("metadata"); metadata != nullptr) {
        if (!metadata->is_object()) {
            return invalid("`metadata` must be an object");
        }
        if (auto ok = json::reject_unknown_fields(metadata->as_object(), {"user_id"}); !ok) {
            return invalid("`metadata`: " + ok.error().message);
        }
    }
    if (auto ok = check_tools_supported(r, model); !ok) {
        return ok.error();
    }
    return d;
}

bj::object message_json(std::string_view id, std::string_view model, const CollectedAnswer& a) {
    bj::array content;
    if (!a.thinking.empty()) {
        content.push_back(bj::object{
            {"type", "thinking"}, {"thinking", a.thinking}, {"signature", ""}});
    }
    if (!a.text.empty() || a.tool_calls.empty()) {
        content.push_back(bj::object{{"type", "text"}, {"text", a.text}});
    }
    for (const auto& c : a.tool_calls) {
        boost::system::error_code ec;
        auto input = bj::parse(c.arguments, ec);
        if (ec || !input.is_object()) {
            input = bj::object();
        }
        content.push_back(bj::object{
            {"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", std::move(input)}});
    }
    return {
        {"id", id},
        {"type", "message"},
        {"role", "assistant"},
        {"model", model},
        {"content", std::move(content)},
        {"stop_reason", messages::anthropic_stop_reason(a.reply.finish_reason.value_or("stop"))},
        {"stop_sequence", nullptr},
        {"usage",
         {{"input_tokens", a.reply.input_tokens}, {"output_tokens", a.reply.output_tokens}}},
    };
}

}  // namespace parley::compat
