// The models Parley knows: provider, context window, output limit, prices and capabilities. The
// defaults are compiled in from llm/catalog.json; an operator replaces them with MODEL_CATALOG.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace parley::llm {

struct ModelInfo {
    std::string id;        // what clients send as `model` and what the provider is asked for
    std::string provider;  // "groq", "google", "openai", "anthropic", "mock"
    std::string name;
    std::int64_t context_window = 0;
    std::int64_t max_output = 0;
    double input_per_mtok = 0;   // USD per million input tokens
    double output_per_mtok = 0;  // USD per million output tokens
    bool thinking = false;
    bool tools = false;

    // The cost of a call in integer micro-dollars (what messages store), rounded to nearest.
    std::int64_t cost_micros(std::int64_t input_tokens, std::int64_t output_tokens) const noexcept;
};

class Catalog {
public:
    explicit Catalog(std::vector<ModelInfo> models);

    // The built-in catalog.
    static const Catalog& builtin();

    // Parses a catalog file's JSON ({"models": [...]}, the shape of llm/catalog.json). Errors:
    // invalid_request naming the model entry and the field that is wrong.
    static Result<Catalog> parse(std::string_view json);

    const ModelInfo* find(std::string_view id) const noexcept;

    const std::vector<ModelInfo>& models() const noexcept { return models_; }

private:
    std::vector<ModelInfo> models_;
};

}  // namespace parley::llm
