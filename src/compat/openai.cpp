#include "compat/openai.hpp"

#include <algorithm>
#include <map>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "common/json.hpp"
#include "messages/stream_format.hpp"

namespace parley::compat {

namespace bj = boost::json;

namespace {

// A message's `content`: a string, null, or an array of {"type":"text","text"} parts.
Result<std::string> content_text(const bj::object& m, std::string_view where) {
    const auto* c = m.if_contains("content");
    if (c == nullptr || c->is_null()) {
        return std::string();
    }
    if (c->is_string()) {
        return std::string(c->as_string());
    }
    if (!c->is_array()) {
        return invalid(
            "`" + std::string(where) + ".content` must be a string or an array of parts"
        );
    }
    std::string out;
    for (const auto& part : c->as_array()) {
        const auto* p = part.if_object();
        const auto* type = p != nullptr ? p->if_contains("type") : nullptr;
        if (type == nullptr || !type->is_string()) {
            return invalid("`" + std::string(where) + ".content` parts need a `type`");
        }
        if (type->as_string() != "text") {
            return invalid(
                "content parts of type `" + std::string(type->as_string()) +
                "` are not supported; send text"
            );
        }
        const auto* text = p->if_contains("text");
        if (text == nullptr || !text->is_string()) {
            return invalid("`" + std::string(where) + ".content` text parts need a string `text`");
        }
        out += text->as_string();
    }
    return out;
}

// An assistant message's tool_calls.
Result<std::vector<llm::ToolCall>> decode_tool_calls(const bj::value& v, std::string_view where) {
    std::vector<llm::ToolCall> out;
    if (v.is_null()) {
        return out;
    }
    if (!v.is_array()) {
        return invalid("`" + std::string(where) + ".tool_calls` must be an array");
    }
    for (const auto& entry : v.as_array()) {
        const auto* c = entry.if_object();
        const auto* f = c != nullptr ? c->if_contains("function") : nullptr;
        const auto* id = c != nullptr ? c->if_contains("id") : nullptr;
        if (f == nullptr || !f->is_object() || id == nullptr || !id->is_string()) {
            return invalid(
                "`" + std::string(where) + ".tool_calls` entries need an `id` and a `function`"
            );
        }
        const auto* name = f->as_object().if_contains("name");
        const auto* args = f->as_object().if_contains("arguments");
        if (name == nullptr || !name->is_string() || (args != nullptr && !args->is_string())) {
            return invalid(
                "`" + std::string(where) +
                ".tool_calls[].function` needs a `name` and `arguments` as a string"
            );
        }
        llm::ToolCall call;
        call.id = std::string(id->as_string());
        call.name = std::string(name->as_string());
        call.arguments = args != nullptr && !args->as_string().empty()
                             ? std::string(args->as_string())
                             : std::string("{}");
        out.push_back(std::move(call));
    }
    return out;
}

Result<void> decode_messages(const bj::value* v, llm::ChatRequest& r) {
    if (v == nullptr || !v->is_array() || v->as_array().empty()) {
        return invalid("`messages` must be a non-empty array");
    }
    std::map<std::string, std::string> call_names;  // tool call id → tool name
    std::size_t i = 0;
    for (const auto& entry : v->as_array()) {
        const std::string where = "messages[" + std::to_string(i++) + "]";
        const auto* m = entry.if_object();
        if (m == nullptr) {
            return invalid("`" + where + "` must be an object");
        }
        if (auto ok = json::reject_unknown_fields(
                *m, {"role", "content", "name", "tool_calls", "tool_call_id", "refusal"}
            );
            !ok) {
            return invalid("`" + where + "`: " + ok.error().message);
        }
        const auto* role = m->if_contains("role");
        if (role == nullptr || !role->is_string()) {
            return invalid("`" + where + ".role` is required");
        }
        auto text = content_text(*m, where);
        if (!text) {
            return text.error();
        }
        const std::string_view rn = role->as_string();
        if (rn == "system" || rn == "developer") {
            if (!r.system.empty()) {
                r.system += "\n\n";
            }
            r.system += *text;
        } else if (rn == "user") {
            r.messages.push_back({"user", std::move(*text)});
        } else if (rn == "assistant") {
            llm::ChatMessage a{"assistant", std::move(*text)};
            if (const auto* calls = m->if_contains("tool_calls")) {
                auto decoded = decode_tool_calls(*calls, where);
                if (!decoded) {
                    return decoded.error();
                }
                for (const auto& c : *decoded) {
                    call_names[c.id] = c.name;
                }
                a.tool_calls = std::move(*decoded);
            }
            r.messages.push_back(std::move(a));
        } else if (rn == "tool") {
            const auto* id = m->if_contains("tool_call_id");
            if (id == nullptr || !id->is_string()) {
                return invalid("`" + where + ".tool_call_id` is required for a tool message");
            }
            const auto name = call_names.find(std::string(id->as_string()));
            if (name == call_names.end()) {
                return invalid(
                    "`" + where +
                    ".tool_call_id` answers no tool call of an earlier assistant "
                    "message"
                );
            }
            llm::ChatMessage t{"tool", std::move(*text)};
            t.tool_call_id = name->first;
            t.tool_name = name->second;
            r.messages.push_back(std::move(t));
        } else {
            return invalid(
                "`" + where + ".role` must be system, developer, user, assistant or tool"
            );
        }
    }
    return {};
}

// One function tool: {"type": "function", "function": {name, description?, parameters?, strict?}}.
Result<llm::ToolSpec> decode_tool(const bj::value& entry, const std::string& where) {
    const auto* t = entry.if_object();
    const auto* type = t != nullptr ? t->if_contains("type") : nullptr;
    const auto* f = t != nullptr ? t->if_contains("function") : nullptr;
    if (type == nullptr || !type->is_string() || type->as_string() != "function" || f == nullptr ||
        !f->is_object()) {
        return invalid("`" + where + "` must be {\"type\": \"function\", \"function\": {…}}");
    }
    const auto& fo = f->as_object();
    if (auto ok = json::reject_unknown_fields(fo, {"name", "description", "parameters", "strict"});
        !ok) {
        return invalid("`" + where + ".function`: " + ok.error().message);
    }
    return tool_spec(
        where + ".function",
        fo.if_contains("name"),
        fo.if_contains("description"),
        fo.if_contains("parameters")
    );
}

}  // namespace

Result<DecodedCall> decode_chat_request(const bj::object& body, const llm::ModelRouter& router) {
    if (auto ok = json::reject_unknown_fields(
            body,
            {"model",
             "messages",
             "stream",
             "stream_options",
             "temperature",
             "max_tokens",
             "max_completion_tokens",
             "stop",
             "tools",
             "tool_choice",
             "user",
             "n"}
        );
        !ok) {
        return ok.error();
    }
    auto decoded = call_to_model(body, router);
    if (!decoded) {
        return decoded.error();
    }
    DecodedCall d = std::move(*decoded);
    const llm::ModelInfo& model = *d.call.model;
    llm::ChatRequest& r = d.call.request;
    if (auto ok = decode_messages(body.if_contains("messages"), r); !ok) {
        return ok.error();
    }
    auto stream = json::optional_bool(body, "stream");
    if (!stream) {
        return stream.error();
    }
    d.stream = stream->value_or(false);
    if (const auto* so = body.if_contains("stream_options"); so != nullptr && !so->is_null()) {
        if (!d.stream) {
            return invalid("`stream_options` is only allowed when `stream` is true");
        }
        if (!so->is_object()) {
            return invalid("`stream_options` must be an object");
        }
        if (auto ok = json::reject_unknown_fields(so->as_object(), {"include_usage"}); !ok) {
            return invalid("`stream_options`: " + ok.error().message);
        }
        auto usage = json::optional_bool(so->as_object(), "include_usage");
        if (!usage) {
            return usage.error();
        }
        d.include_usage = usage->value_or(false);
    }
    if (const auto* t = body.if_contains("temperature"); t != nullptr && !t->is_null()) {
        auto temperature = number_in(*t, "temperature", 0, 2);
        if (!temperature) {
            return temperature.error();
        }
        r.temperature = *temperature;
    }
    r.max_tokens = static_cast<int>(std::min<std::int64_t>(1024, model.max_output));
    for (const std::string_view field : {"max_tokens", "max_completion_tokens"}) {
        auto n = json::optional_int(body, field);
        if (!n) {
            return n.error();
        }
        if (*n) {
            auto checked = max_tokens(**n, model, field);
            if (!checked) {
                return checked.error();
            }
            r.max_tokens = *checked;
        }
    }
    if (const auto* stop = body.if_contains("stop")) {
        auto s = stop_sequences(*stop, "stop", true);
        if (!s) {
            return s.error();
        }
        r.stop = std::move(*s);
    }
    if (const auto* tools = body.if_contains("tools"); tools != nullptr && !tools->is_null()) {
        if (auto ok = decode_tool_list(*tools, r, decode_tool); !ok) {
            return ok.error();
        }
    }
    if (const auto* choice = body.if_contains("tool_choice");
        choice != nullptr && !choice->is_null()) {
        if (!choice->is_string() ||
            (choice->as_string() != "auto" && choice->as_string() != "none")) {
            return invalid(
                "`tool_choice` must be \"auto\" or \"none\" (forcing a tool is not supported)"
            );
        }
        if (choice->as_string() == "none") {
            r.tools.clear();
        }
    }
    if (auto user = json::optional_string(body, "user"); !user) {
        return user.error();
    }
    auto n = json::optional_int(body, "n");
    if (!n) {
        return n.error();
    }
    if (*n && **n != 1) {
        return invalid("`n` must be 1: one choice per request");
    }
    if (auto ok = check_tools_supported(r, model); !ok) {
        return ok.error();
    }
    return d;
}

bj::object chat_completion_json(
    std::string_view id, std::int64_t created_unix, std::string_view model, const CollectedAnswer& a
) {
    bj::object message{
        {"role", "assistant"},
        {"content",
         a.text.empty() && !a.tool_calls.empty() ? bj::value(nullptr) : bj::value(a.text)},
        {"refusal", nullptr},
    };
    if (!a.thinking.empty()) {
        message["reasoning"] = a.thinking;  // as the stream's `delta.reasoning`
    }
    if (!a.tool_calls.empty()) {
        bj::array calls;
        for (const auto& c : a.tool_calls) {
            calls.push_back(bj::object{
                {"id", c.id},
                {"type", "function"},
                {"function", {{"name", c.name}, {"arguments", c.arguments}}},
            });
        }
        message["tool_calls"] = std::move(calls);
    }
    const auto finish = a.reply.finish_reason.value_or("stop");
    return {
        {"id", "chatcmpl-" + std::string(id)},
        {"object", "chat.completion"},
        {"created", created_unix},
        {"model", model},
        {"choices",
         bj::array{bj::object{
             {"index", 0},
             {"message", std::move(message)},
             {"logprobs", nullptr},
             {"finish_reason", messages::openai_finish_reason(finish)},
         }}},
        {"usage",
         {{"prompt_tokens", a.reply.input_tokens},
          {"completion_tokens", a.reply.output_tokens},
          {"total_tokens", a.reply.input_tokens + a.reply.output_tokens}}},
    };
}

bj::object model_list_json(const llm::ModelRouter& router) {
    bj::array data;
    for (const auto& m : router.catalog().models()) {
        if (!router.available(m)) {
            continue;
        }
        data.push_back(bj::object{
            {"id", m.id},
            {"object", "model"},
            {"created", 0},
            {"owned_by", m.provider},
            {"type", "model"},
            {"display_name", m.name},
            {"created_at", "1970-01-01T00:00:00Z"},
        });
    }
    bj::value first = data.empty() ? bj::value(nullptr) : data.front().as_object().at("id");
    bj::value last = data.empty() ? bj::value(nullptr) : data.back().as_object().at("id");
    return {
        {"object", "list"},
        {"data", std::move(data)},
        {"has_more", false},
        {"first_id", std::move(first)},
        {"last_id", std::move(last)},
    };
}

}  // namespace parley::compat
