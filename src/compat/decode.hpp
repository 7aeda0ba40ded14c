// What the two compatible request decoders share: the model a request names (404 when Parley
// cannot serve it, as both APIs answer), stop sequences, tool definitions and a request's call
// settings. Pure functions over Boost.JSON; errors are unprocessable (a 400 on the wire) naming
// the field, or not_found for the model.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/error.hpp"
#include "llm/router.hpp"
#include "messages/call.hpp"

namespace parley::compat {

// A decoded request: the call to make and how to answer it.
struct DecodedCall {
    messages::CallRequest call;
    bool stream = false;
    bool include_usage = false;  // OpenAI's stream_options.include_usage
};

// A call to the catalog model the body's `model` names, if the router can serve it. Errors:
// unprocessable without `model`; not_found naming the model when it is unknown or its provider
// is not configured.
Result<DecodedCall> call_to_model(const boost::json::object& body, const llm::ModelRouter& router);

// Stop sequences: a string or an array of at most four non-empty strings (`field` names the
// field in errors; `allow_string` accepts a lone string, as OpenAI's `stop` does).
Result<std::vector<std::string>> stop_sequences(
    const boost::json::value& v, std::string_view field, bool allow_string
);

// A tool definition: `name` as every provider accepts it ([a-zA-Z0-9_-]{1,64}), the schema of
// its arguments a JSON object (absent: an object without properties).
Result<llm::ToolSpec> tool_spec(
    std::string_view field,
    const boost::json::value* name,
    const boost::json::value* description,
    const boost::json::value* parameters
);

// `tools`: an array whose entries `one(entry, "tools[i]")` turns into tool definitions, appended
// to r.tools in order; the first refusal is the error.
Result<void> decode_tool_list(
    const boost::json::value& v,
    llm::ChatRequest& r,
    const std::function<Result<llm::ToolSpec>(const boost::json::value&, const std::string&)>& one
);

// An unprocessable request (400 on the wire) saying `message`.
Error invalid(std::string message);

// max_tokens from 1 to the model's output limit.
Result<int> max_tokens(std::int64_t n, const llm::ModelInfo& model, std::string_view field);

// A number from `low` to `high` (temperature).
Result<double> number_in(
    const boost::json::value& v, std::string_view field, double low, double high
);

// Requests offering tools to a model without tool use are refused.
Result<void> check_tools_supported(const llm::ChatRequest& r, const llm::ModelInfo& model);

}  // namespace parley::compat
