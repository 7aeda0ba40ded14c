// OpenAI's Chat Completions API over Parley's router: decoding a `POST /v1/chat/completions` body
// into a stateless call, and the `chat.completion` object of a non-streamed answer (the streamed
// one is messages::make_openai_encoder's). Pure: no I/O.
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "common/error.hpp"
#include "compat/decode.hpp"
#include "llm/router.hpp"
#include "store/models.hpp"

namespace parley::compat {

// Decodes a chat completion request: `model`, `messages` (system/developer, user, assistant with
// `tool_calls`, tool; text or arrays of text parts), `stream`, `stream_options.include_usage`,
// `temperature`, `max_tokens` / `max_completion_tokens`, `stop`, `tools` (functions),
// `tool_choice` ("auto" or "none"), `user`, `n` (1). Errors: unprocessable (400 on the wire)
// naming the field, for any other field too (OpenAI refuses unrecognized arguments); not_found
// for the model.
Result<DecodedCall> decode_chat_request(
    const boost::json::object& body, const llm::ModelRouter& router
);

// What a non-streamed answer produced.
struct CollectedAnswer {
    std::string text;
    std::string thinking;
    std::vector<llm::ToolCall> tool_calls;
    store::Message reply;  // the account: model that answered, tokens, cost, finish_reason
};

// The `chat.completion` object for an answer to a call started with `id` at `created_unix`.
boost::json::object chat_completion_json(
    std::string_view id, std::int64_t created_unix, std::string_view model, const CollectedAnswer& a
);

// GET /v1/models: the models this server can serve, in a list both SDKs read (OpenAI's
// `{"object":"list","data":[{id,object,created,owned_by}]}` with Anthropic's `type`,
// `display_name`, `created_at` on each and `has_more`, `first_id`, `last_id`).
boost::json::object model_list_json(const llm::ModelRouter& router);

}  // namespace parley::compat
