#include "compat/decode.hpp"

#include <boost/json/serialize.hpp>

#include "common/json.hpp"

namespace parley::compat {

namespace bj = boost::json;

namespace {

bool valid_tool_name(std::string_view name) {
    if (name.empty() || name.size() > 64) {
        return false;
    }
    for (const char ch : name) {
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                        (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

}  // namespace

Result<DecodedCall> call_to_model(const bj::object& body, const llm::ModelRouter& router) {
    auto model_id = json::required_string(body, "model");
    if (!model_id) {
        return model_id.error();
    }
    const std::string_view id = *model_id;
    const std::string shown(id);
    if (id.empty() || router.catalog().find(id) == nullptr) {
        return make_error(
            ErrorType::not_found,
            "The model `" + shown + "` does not exist or you do not have access to it."
        );
    }
    auto resolved = router.resolve(id);
    if (!resolved) {
        // Known, but its provider is not configured here: not a model this server offers.
        return make_error(
            ErrorType::not_found,
            "The model `" + shown + "` is not available on this server.",
            resolved.error().message
        );
    }
    DecodedCall d;
    d.call.model = *resolved;
    return d;
}

Result<std::vector<std::string>> stop_sequences(
    const bj::value& v, std::string_view field, bool allow_string
) {
    std::vector<std::string> out;
    const std::string name(field);
    if (v.is_null()) {
        return out;
    }
    if (allow_string && v.is_string()) {
        if (v.as_string().empty()) {
            return invalid("`" + name + "` must not be empty");
        }
        out.emplace_back(v.as_string());
        return out;
    }
    if (!v.is_array()) {
        return invalid(
            "`" + name + "` must be " + (allow_string ? "a string or " : "") + "an array of strings"
        );
    }
    if (v.as_array().size() > 4) {
        return invalid("`" + name + "` takes at most 4 sequences");
    }
    for (const auto& s : v.as_array()) {
        if (!s.is_string() || s.as_string().empty()) {
            return invalid("`" + name + "` must hold non-empty strings");
        }
        out.emplace_back(s.as_string());
    }
    return out;
}

Result<llm::ToolSpec> tool_spec(
    std::string_view field,
    const bj::value* name,
    const bj::value* description,
    const bj::value* parameters
) {
    const std::string f(field);
    if (name == nullptr || !name->is_string() || !valid_tool_name(name->as_string())) {
        return invalid("`" + f + ".name` must be 1 to 64 characters of a-z, A-Z, 0-9, _ and -");
    }
    llm::ToolSpec spec;
    spec.name = std::string(name->as_string());
    if (description != nullptr && !description->is_null()) {
        if (!description->is_string()) {
            return invalid("`" + f + ".description` must be a string");
        }
        spec.description = std::string(description->as_string());
    }
    if (parameters == nullptr || parameters->is_null()) {
        spec.parameters = R"({"type":"object","properties":{}})";
    } else if (!parameters->is_object()) {
        return invalid("`" + f + "` needs a JSON Schema object for the arguments");
    } else {
        spec.parameters = bj::serialize(*parameters);
    }
    return spec;
}

Error invalid(std::string message) {
    return make_error(ErrorType::unprocessable, std::move(message));
}

Result<void> decode_tool_list(
    const bj::value& v,
    llm::ChatRequest& r,
    const std::function<Result<llm::ToolSpec>(const bj::value&, const std::string&)>& one
) {
    if (!v.is_array()) {
        return invalid("`tools` must be an array");
    }
    std::size_t i = 0;
    for (const auto& entry : v.as_array()) {
        auto spec = one(entry, "tools[" + std::to_string(i++) + "]");
        if (!spec) {
            return spec.error();
        }
        r.tools.push_back(std::move(*spec));
    }
    return {};
}

Result<int> max_tokens(std::int64_t n, const llm::ModelInfo& model, std::string_view field) {
    if (n < 1 || n > model.max_output) {
        return invalid(
            "`" + std::string(field) + "` must be from 1 to " + std::to_string(model.max_output) +
            " for " + model.id
        );
    }
    return static_cast<int>(n);
}

Result<double> number_in(const bj::value& v, std::string_view field, double low, double high) {
    if (!v.is_number()) {
        return invalid("`" + std::string(field) + "` must be a number");
    }
    const double d = v.to_number<double>();
    if (d < low || d > high) {
        // The bounds are whole numbers (0 to 1, 0 to 2).
        return invalid(
            "`" + std::string(field) + "` must be from " +
            std::to_string(static_cast<long long>(low)) + " to " +
            std::to_string(static_cast<long long>(high))
        );
    }
    return d;
}

Result<void> check_tools_supported(const llm::ChatRequest& r, const llm::ModelInfo& model) {
    if (!r.tools.empty() && !model.tools) {
        return invalid("the model " + model.id + " does not support tools");
    }
    return {};
}

}  // namespace parley::compat
