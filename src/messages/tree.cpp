#include "messages/tree.hpp"

namespace parley::messages {

Result<Placement> place(const Branch& branch, std::vector<store::PathMessage> path) {
    Placement out;
    if (branch.kind != Branch::Kind::append) {
        if (path.empty()) {
            return make_error(ErrorType::not_found, "message not found");
        }
        const auto& target = *path.back().message;
        if (branch.kind == Branch::Kind::edit && target.role != "user") {
            return make_error(ErrorType::unprocessable, "only a user message can be edited");
        }
        if (branch.kind == Branch::Kind::regenerate) {
            if (target.role != "assistant") {
                return make_error(
                    ErrorType::unprocessable, "only an assistant message can be regenerated"
                );
            }
            if (path.size() < 2 || path[path.size() - 2].message->role != "user") {
                return make_error(
                    ErrorType::unprocessable, "this answer has no user message to answer again"
                );
            }
        }
        // The new message replaces the target: it and its descendants are not context.
        path.pop_back();
    }
    if (!path.empty()) {
        out.parent_id = path.back().message->id;
    }
    if (branch.kind == Branch::Kind::regenerate) {
        out.question = *path.back().message;
        out.parent_id.reset();
    }
    out.newest_first.reserve(path.size());
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
        out.newest_first.push_back(std::move(it->message));
    }
    return out;
}

}  // namespace parley::messages
