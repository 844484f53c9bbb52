// SPDX-License-Identifier: GPL-2.0
#include "suggest.hpp"

#include <algorithm>

#include "ntm/text.hpp"

namespace ntmctl {

namespace {

std::vector<const CLI::App *> subcommands_of(const CLI::App *app)
{
	return app->get_subcommands([](const CLI::App *) { return true; });
}

/* long and short names of the options a word after app may name (app and its parents: fallthrough) */
std::vector<std::string> option_names(const CLI::App *app)
{
	std::vector<std::string> names;
	for (const CLI::App *a = app; a != nullptr; a = a->get_parent())
		for (const CLI::Option *o : a->get_options({})) {
			for (const auto &l : o->get_lnames())
				names.push_back("--" + l);
			for (const auto &s : o->get_snames())
				names.push_back("-" + s);
		}
	return names;
}

const CLI::Option *find_option(const CLI::App *app, const std::string &name)
{
	for (const CLI::App *a = app; a != nullptr; a = a->get_parent())
		if (const CLI::Option *o = a->get_option_no_throw(name); o != nullptr && !o->get_positional())
			return o;
	return nullptr;
}

std::string did_you_mean(const std::optional<std::string> &s, const std::string &prefix)
{
	return s ? ", did you mean '" + prefix + *s + "'?" : std::string();
}

} // namespace

std::optional<std::string> closest(std::string_view word, const std::vector<std::string> &candidates)
{
	if (word.empty())
		return std::nullopt;
	/* "sh" for "show": a unique prefix is the clearest hint */
	std::optional<std::string> prefixed;
	int prefixes = 0;
	for (const auto &c : candidates)
		if (c.starts_with(word) && c != word) {
			prefixed = prefixed.value_or(c);
			prefixes++;
		}
	if (prefixes == 1)
		return prefixed;
	const std::size_t limit = std::clamp<std::size_t>(word.size() / 3, 1, 3);
	std::optional<std::string> best;
	std::size_t best_d = limit + 1;
	for (const auto &c : candidates) {
		const std::size_t d = ntm::edit_distance(word, c);
		if (d < best_d) {
			best_d = d;
			best = c;
		}
	}
	return best;
}

std::optional<std::string> explain_unknown(const CLI::App &top, const std::vector<std::string> &words)
{
	const CLI::App *cur = &top;
	std::string path;
	for (std::size_t i = 0; i < words.size(); i++) {
		const std::string &w = words[i];
		if (w == "--")
			break;
		if (w.size() > 1 && w[0] == '-') {
			std::string name = w;
			const auto eq = name.find('=');
			if (eq != std::string::npos)
				name.resize(eq);
			const CLI::Option *o = find_option(cur, name);
			if (o == nullptr) {
				if (name.size() > 2 && name[1] != '-')
					return std::nullopt; /* -jv and the like: CLI11's message */
				return "unknown option '" + name + "'" + (path.empty() ? "" : " for '" + path + "'") +
				       did_you_mean(closest(name, option_names(cur)), "");
			}
			if (eq == std::string::npos && o->get_items_expected_max() > 0)
				i++; /* its value */
			continue;
		}
		const auto subs = subcommands_of(cur);
		if (subs.empty())
			continue; /* an argument of a leaf command */
		const auto it = std::ranges::find_if(subs, [&](const CLI::App *s) { return s->check_name(w); });
		if (it == subs.end()) {
			std::vector<std::string> names;
			for (const CLI::App *s : subs)
				names.push_back(s->get_name());
			const std::string before = path.empty() ? "" : path + " ";
			return "unknown command '" + before + w + "'" + did_you_mean(closest(w, names), before);
		}
		cur = *it;
		path += (path.empty() ? "" : " ") + cur->get_name();
	}
	return std::nullopt;
}

std::vector<CommandInfo> command_tree(const CLI::App &top)
{
	std::vector<CommandInfo> out;
	auto walk = [&out](auto &self, const CLI::App *app, const std::string &path) -> void {
		CommandInfo ci;
		ci.path = path;
		const auto subs = subcommands_of(app);
		ci.leaf = subs.empty();
		for (const CLI::Option *o : app->get_options({}))
			for (const auto &l : o->get_lnames())
				ci.options.push_back("--" + l);
		out.push_back(std::move(ci));
		for (const CLI::App *s : subs)
			self(self, s, path.empty() ? s->get_name() : path + " " + s->get_name());
	};
	walk(walk, &top, "");
	return out;
}

} // namespace ntmctl
