#include "messages/requests.hpp"

#include "common/json.hpp"
#include "common/strings.hpp"

namespace parley::messages {

Result<NewMessage> new_message_of(
    const boost::json::object& body, std::optional<std::string_view> content_field
) {
    auto known =
        content_field
            ? json::reject_unknown_fields(
                  body, {*content_field, "thinking", "model", "temperature", "max_tokens"}
              )
            : json::reject_unknown_fields(body, {"thinking", "model", "temperature", "max_tokens"});
    if (!known) {
        return known.error();
    }
    NewMessage message;
    if (content_field) {
        auto content = json::required_string(body, *content_field);
        if (!content) {
            return content.error();
        }
        message.content = std::move(*content);
    }
    auto thinking = json::optional_bool(body, "thinking");
    auto model = json::optional_string(body, "model");
    auto temperature = json::optional_number(body, "temperature");
    auto max_tokens = json::optional_int(body, "max_tokens");
    if (!thinking) {
        return thinking.error();
    }
    if (!model) {
        return model.error();
    }
    if (!temperature) {
        return temperature.error();
    }
    if (!max_tokens) {
        return max_tokens.error();
    }
    message.thinking = *thinking;
    message.model = std::move(*model);
    message.temperature = *temperature;
    message.max_tokens = *max_tokens;
    return message;
}

Result<NewMessage> frame_message_of(std::string text, std::size_t max_depth, bool seed) {
    auto parsed = json::parse(text, max_depth, json::DuplicateKeys::refuse);
    if (!parsed && seed) {
        // The seed's protocol: a frame that is not JSON is the message itself.
        NewMessage plain;
        plain.content = std::move(text);
        return plain;
    }
    if (!parsed) {
        return make_error(
            ErrorType::invalid_request,
            parsed.error().message + "; send a JSON object: {\"message\": \"…\"}"
        );
    }
    if (!parsed->is_object()) {
        return make_error(ErrorType::invalid_request, "send a JSON object: {\"message\": \"…\"}");
    }
    const auto& object = parsed->as_object();
    if (object.contains("content") && object.contains("message")) {
        return make_error(
            ErrorType::unprocessable, "send the text as `message` or `content`, not both"
        );
    }
    return new_message_of(
        object, std::string_view(object.contains("content") ? "content" : "message")
    );
}

Result<std::string> prompt_of(const boost::json::object& body) {
    if (auto known = json::reject_unknown_fields(body, {"prompt"}); !known) {
        return known.error();
    }
    auto prompt = json::required_string(body, "prompt");
    if (!prompt) {
        return prompt.error();
    }
    const auto chars = utf8_length(*prompt);
    if (chars < 1 || chars > kMaxPromptChars) {
        return make_error(
            ErrorType::unprocessable,
            "prompt must be 1 to " + std::to_string(kMaxPromptChars) + " characters"
        );
    }
    return prompt;
}

}  // namespace parley::messages
