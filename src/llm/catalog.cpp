#include "llm/catalog.hpp"

#include <cmath>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "common/json.hpp"

namespace parley::llm {

namespace bj = boost::json;

extern const char* const kBuiltinCatalogJson;  // generated from llm/catalog.json

std::int64_t ModelInfo::cost_micros(std::int64_t input_tokens, std::int64_t output_tokens)
    const noexcept {
    // price per million tokens in dollars == price per token in micro-dollars
    const double micros = static_cast<double>(input_tokens) * input_per_mtok +
                          static_cast<double>(output_tokens) * output_per_mtok;
    return static_cast<std::int64_t>(std::llround(micros));
}

Catalog::Catalog(std::vector<ModelInfo> models) : models_(std::move(models)) {}

const Catalog& Catalog::builtin() {
    static const Catalog catalog = [] {
        auto parsed = parse(kBuiltinCatalogJson);
        if (!parsed) {
            throw std::logic_error("built-in catalog is invalid: " + parsed.error().message);
        }
        return std::move(*parsed);
    }();
    return catalog;
}

Result<Catalog> Catalog::parse(std::string_view text) {
    auto root = json::parse(text, 16);
    if (!root) {
        return root.error();
    }
    const auto* models = root->is_object() ? root->as_object().if_contains("models") : nullptr;
    if (models == nullptr || !models->is_array()) {
        return make_error(
            ErrorType::invalid_request, "catalog must be an object with a \"models\" array"
        );
    }
    std::vector<ModelInfo> out;
    std::size_t index = 0;
    for (const auto& entry : models->as_array()) {
        const auto where = "models[" + std::to_string(index++) + "]";
        if (!entry.is_object()) {
            return make_error(ErrorType::invalid_request, where + " must be an object");
        }
        const auto& o = entry.as_object();
        ModelInfo m;
        const auto text_field = [&](std::string_view key,
                                    std::string& into) -> std::optional<Error> {
            auto v = json::required_string(o, key);
            if (!v || v->empty()) {
                return make_error(
                    ErrorType::invalid_request,
                    where + "." + std::string(key) + " must be a non-empty string"
                );
            }
            into = std::move(*v);
            return std::nullopt;
        };
        const auto number_field = [&](std::string_view key, double& into) -> std::optional<Error> {
            const auto* v = o.if_contains(key);
            if (v == nullptr || !v->is_number() || v->to_number<double>() < 0) {
                return make_error(
                    ErrorType::invalid_request,
                    where + "." + std::string(key) + " must be a number ≥ 0"
                );
            }
            into = v->to_number<double>();
            return std::nullopt;
        };
        double context = 0;
        double max_output = 0;
        for (auto problem :
             {text_field("id", m.id),
              text_field("provider", m.provider),
              text_field("name", m.name),
              number_field("context_window", context),
              number_field("max_output", max_output),
              number_field("input_per_mtok", m.input_per_mtok),
              number_field("output_per_mtok", m.output_per_mtok)}) {
            if (problem) {
                return *problem;
            }
        }
        m.context_window = static_cast<std::int64_t>(context);
        m.max_output = static_cast<std::int64_t>(max_output);
        if (m.context_window <= 0 || m.max_output <= 0 || m.max_output > m.context_window) {
            return make_error(
                ErrorType::invalid_request, where + ": need 0 < max_output ≤ context_window"
            );
        }
        const auto thinking = json::optional_bool(o, "thinking");
        const auto tools = json::optional_bool(o, "tools");
        if (!thinking || !tools) {
            return make_error(
                ErrorType::invalid_request, where + ": thinking and tools must be booleans"
            );
        }
        m.thinking = thinking->value_or(false);
        m.tools = tools->value_or(false);
        out.push_back(std::move(m));
    }
    if (out.empty()) {
        return make_error(ErrorType::invalid_request, "catalog lists no models");
    }
    return Catalog(std::move(out));
}

const ModelInfo* Catalog::find(std::string_view id) const noexcept {
    for (const auto& m : models_) {
        if (m.id == id) {
            return &m;
        }
    }
    return nullptr;
}

}  // namespace parley::llm
