// The request bodies of the message routes, decoded into the service's input: a message (HTTP body
// or WebSocket frame) and the seed's prompt. Strict (an unknown field is 422 naming it) and typed.
// Pure code, apart from the routes that call it; fuzzed on its own (fuzz/dto_fuzz.cpp).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "common/error.hpp"
#include "messages/service.hpp"

namespace parley::messages {

// A message's body: the content (in `content_field`: `content`, or `message` in the seed's
// WebSocket frames; none for a regeneration, whose question is stored) and the per-message
// options thinking, model, temperature, max_tokens.
// Errors: unprocessable for a missing content, a field of the wrong type or an unknown field.
Result<NewMessage> new_message_of(
    const boost::json::object& body, std::optional<std::string_view> content_field
);

// A WebSocket text frame: a JSON object with the text as `message` or `content` (not both) and the
// options of new_message_of. With `seed` (the seed's protocol), a frame that is not JSON is the
// message itself. Errors: invalid_request for a frame that is not a JSON object (nested deeper than
// `max_depth`, or with a repeated key), unprocessable as new_message_of.
Result<NewMessage> frame_message_of(std::string text, std::size_t max_depth, bool seed);

// POST /api/v1/prompt's body: {"prompt": 1 to kMaxPromptChars characters}.
// Errors: unprocessable for a missing, empty or too long prompt, or another field.
Result<std::string> prompt_of(const boost::json::object& body);

inline constexpr std::size_t kMaxPromptChars = 10'000;

}  // namespace parley::messages
