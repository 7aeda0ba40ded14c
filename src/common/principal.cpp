#include "common/principal.hpp"

namespace parley {

bool parse_scope(std::string_view name, Scope& out) noexcept {
    if (name == "read") {
        out = Scope::read;
    } else if (name == "write") {
        out = Scope::write;
    } else if (name == "admin") {
        out = Scope::admin;
    } else {
        return false;
    }
    return true;
}

std::string_view scope_name(Scope s) noexcept {
    switch (s) {
        case Scope::read:
            return "read";
        case Scope::write:
            return "write";
        case Scope::admin:
            return "admin";
    }
    return "read";
}

std::vector<std::string> scope_names(unsigned scopes) {
    std::vector<std::string> out;
    for (const auto s : {Scope::read, Scope::write, Scope::admin}) {
        if ((scopes & static_cast<unsigned>(s)) != 0) {
            out.emplace_back(scope_name(s));
        }
    }
    return out;
}

}  // namespace parley
