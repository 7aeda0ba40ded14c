// Anthropic's Messages API over Parley's router: decoding `POST /v1/messages` and
// `POST /v1/messages/count_tokens` bodies into a stateless call, and the `message` object of a
// non-streamed answer (the streamed one is messages::make_anthropic_encoder's). Pure: no I/O.
#pragma once

#include <boost/json/object.hpp>

#include "common/error.hpp"
#include "compat/decode.hpp"
#include "compat/openai.hpp"
#include "llm/router.hpp"

namespace parley::compat {

// What the body is for: a message (max_tokens required; stream, temperature, stop_sequences,
// metadata allowed) or a token count (only what shapes the prompt).
enum class AnthropicBody { message, count_tokens };

// Decodes `model`, `system` (a string or text blocks), `messages` (user/assistant; text, tool_use
// and tool_result blocks; thinking blocks of earlier answers are dropped), `max_tokens`,
// `stream`, `temperature`, `stop_sequences`, `thinking` ({"type":"enabled","budget_tokens"} on a
// model that thinks), `tools`, `tool_choice` (auto or none), `metadata`. Errors: unprocessable
// (400 on the wire) naming the field, for any other field too; not_found for the model.
Result<DecodedCall> decode_messages_request(
    const boost::json::object& body, const llm::ModelRouter& router, AnthropicBody kind
);

// The `message` object for an answer to the call `id`.
boost::json::object message_json(
    std::string_view id, std::string_view model, const CollectedAnswer& a
);

}  // namespace parley::compat
