// SPDX-License-Identifier: GPL-2.0
/*
 * ntmctl's command tree against what users read: unknown words named with
 * a suggestion, the man page ntmctl(8) and the shell completion files list
 * every command and option, the status peer table (D93).
 */
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli.hpp"
#include "ntm/error.hpp"
#include "ntm/text.hpp"
#include "ntm/tokenize.hpp"
#include "output.hpp"
#include "suggest.hpp"

using ntmctl::Cli;

namespace {

std::string read_file(const std::string &rel)
{
	std::ifstream in(std::string(NTM_SOURCE_ROOT) + "/" + rel);
	EXPECT_TRUE(in.good()) << rel;
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

/* the usage error a command line gets, "" when it parses */
std::string usage_error(const std::string &line)
{
	Cli cli;
	try {
		(void)cli.parse(ntm::tokenize_line(line), ntmctl::Origin::batch_line);
	} catch (const ntm::UsageError &e) {
		return e.what();
	} catch (const CLI::ParseError &e) {
		return std::string("CLI11: ") + e.what();
	}
	return "";
}

/* "--local-index" as roff writes it: "\-\-local\-index" */
std::string roff(const std::string &s)
{
	std::string r;
	for (const char c : s) {
		if (c == '-')
			r += '\\';
		r += c;
	}
	return r;
}

/* the text of the man page section whose .SS heading starts with path (empty: none) */
std::string man_section(const std::string &man, const std::string &heading)
{
	std::istringstream in(man);
	std::string line;
	std::string out;
	bool in_sec = false;
	while (std::getline(in, line)) {
		if (line.starts_with(".SS ") || line.starts_with(".SH ")) {
			const std::string h = line.substr(4);
			in_sec = h == heading || h.starts_with(heading + " ");
			if (in_sec && !out.empty())
				out += '\n';
		}
		if (in_sec)
			out += line + '\n';
	}
	return out;
}

} // namespace

TEST(Suggest, EditDistance)
{
	EXPECT_EQ(ntm::edit_distance("", ""), 0U);
	EXPECT_EQ(ntm::edit_distance("show", "show"), 0U);
	EXPECT_EQ(ntm::edit_distance("sho", "show"), 1U);
	EXPECT_EQ(ntm::edit_distance("shwo", "show"), 2U);
	EXPECT_EQ(ntm::edit_distance("kitten", "sitting"), 3U);
}

TEST(Suggest, Closest)
{
	const std::vector<std::string> cmds{"show", "device", "tunnel", "relay", "monitor", "status", "ike"};
	EXPECT_EQ(ntmctl::closest("sho", cmds).value_or(""), "show");
	EXPECT_EQ(ntmctl::closest("tunel", cmds).value_or(""), "tunnel");
	EXPECT_EQ(ntmctl::closest("stauts", cmds).value_or(""), "status");
	EXPECT_EQ(ntmctl::closest("mon", cmds).value_or(""), "monitor"); /* a unique prefix */
	EXPECT_FALSE(ntmctl::closest("bogus", cmds));
	EXPECT_FALSE(ntmctl::closest("s", cmds)); /* show and status: no unique prefix, too short */
}

TEST(Suggest, UnknownCommandsAndOptions)
{
	EXPECT_EQ(usage_error("bogus"), "unknown command 'bogus'");
	EXPECT_EQ(usage_error("sho"), "unknown command 'sho', did you mean 'show'?");
	EXPECT_EQ(usage_error("tunnel ad ntm0"), "unknown command 'tunnel ad', did you mean 'tunnel add'?");
	EXPECT_EQ(usage_error("-j --config x.toml ike initiat psk"),
		  "unknown command 'ike initiat', did you mean 'ike initiate'?");
	EXPECT_EQ(usage_error("show --jsno"), "unknown option '--jsno' for 'show', did you mean '--json'?");
	EXPECT_EQ(usage_error("ike rekey psk --chld"),
		  "unknown option '--chld' for 'ike rekey', did you mean '--child'?");
	/* known words keep CLI11's message; a good line parses */
	EXPECT_TRUE(usage_error("").starts_with("CLI11: ")) << usage_error("");
	EXPECT_EQ(usage_error("show ntm0"), "");
	EXPECT_EQ(usage_error("ike initiate psk --timeout 5"), "");
	EXPECT_NE(usage_error("ike initiate psk --timeout 5 --no-wait"), "");
}

TEST(CliDocs, ManPageListsEveryCommandAndOption)
{
	const Cli cli;
	const std::string man = read_file("Documentation/man/ntmctl.8");
	std::string synopsis = man_section(man, "SYNOPSIS");
	for (const auto &c : ntmctl::command_tree(cli.app())) {
		if (c.path.empty()) {
			const std::string sec = man_section(man, "OPTIONS");
			for (const auto &o : c.options)
				EXPECT_NE(sec.find(roff(o)), std::string::npos) << "OPTIONS lacks " << o;
			continue;
		}
		if (!c.leaf)
			continue;
		EXPECT_NE(synopsis.find(roff(c.path.substr(c.path.rfind(' ') + 1))), std::string::npos)
			<< "SYNOPSIS lacks " << c.path;
		const std::string sec = man_section(man, roff(c.path));
		EXPECT_FALSE(sec.empty()) << "no .SS " << c.path << " in ntmctl.8";
		for (const auto &o : c.options) {
			if (o == "--help")
				continue;
			EXPECT_NE(sec.find(roff(o)), std::string::npos) << ".SS " << c.path << " lacks " << o;
		}
	}
}

TEST(CliDocs, CompletionListsEveryCommandAndOption)
{
	const Cli cli;
	for (const char *file : {"ctld/completion/ntmctl.bash", "ctld/completion/_ntmctl"}) {
		const std::string text = read_file(file);
		for (const auto &c : ntmctl::command_tree(cli.app())) {
			if (!c.path.empty()) {
				/* the table line of the command: 'tunnel add') or "| 'tunnel add')" */
				const std::string key = c.path.find(' ') != std::string::npos ? "'" + c.path + "'" : c.path;
				const std::string word = c.path.substr(c.path.rfind(' ') + 1);
				EXPECT_NE(text.find(" " + word), std::string::npos) << file << " lacks command " << c.path;
				if (c.leaf && !(c.options.size() == 1 && c.options[0] == "--help")) {
					EXPECT_TRUE(text.find(key + ")") != std::string::npos ||
						    text.find(key + " |") != std::string::npos)
						<< file << " has no entry " << c.path;
				}
			}
			for (const auto &o : c.options)
				EXPECT_NE(text.find(o), std::string::npos) << file << " lacks " << c.path << " " << o;
		}
	}
}

TEST(StatusTable, Peers)
{
	const auto node = nlohmann::ordered_json::parse(R"({"interface":"ntm0","peers":[
		{"fqdn":"b.ntm.test","vip4":"10.1.0.2","vip6":"fd00::2","local_index":7,"endpoint":"192.0.2.2:4500",
		 "key_age_s":12,"path":{"path":"direct"}},
		{"fqdn":"","vip4":null,"vip6":"fd00::3","local_index":8,"endpoint":"192.0.2.3:4500",
		 "key_age_s":300,"path":{"path":"relay","relay":"198.51.100.1:4500"}}]})");
	std::map<std::uint32_t, ntmctl::Traffic> traffic{{7, {1536, 100}}};
	const auto rows = ntmctl::peer_table(node, traffic);
	ASSERT_EQ(rows.size(), 3U);
	EXPECT_EQ(rows[0], (std::vector<std::string>{"PEER", "VIRTUAL", "PATH", "ENDPOINT", "HANDSHAKE", "RX", "TX"}));
	EXPECT_EQ(rows[1], (std::vector<std::string>{"b.ntm.test", "10.1.0.2,fd00::2", "direct", "192.0.2.2:4500",
						     "12s ago", "1.5 KiB", "100 B"}));
	EXPECT_EQ(rows[2], (std::vector<std::string>{"192.0.2.3:4500", "fd00::3", "relayed via 198.51.100.1:4500",
						     "192.0.2.3:4500", "5m ago", "-", "-"}));
	EXPECT_EQ(ntmctl::peer_table(nlohmann::ordered_json::object(), {}).size(), 1U);
}

TEST(StatusTable, Units)
{
	EXPECT_EQ(ntmctl::human_bytes(0), "0 B");
	EXPECT_EQ(ntmctl::human_bytes(1023), "1023 B");
	EXPECT_EQ(ntmctl::human_bytes(1024), "1.0 KiB");
	EXPECT_EQ(ntmctl::human_bytes(std::uint64_t{3} << 30), "3.0 GiB");
	EXPECT_EQ(ntmctl::ago(0), "0s ago");
	EXPECT_EQ(ntmctl::ago(119), "119s ago");
	EXPECT_EQ(ntmctl::ago(7200), "2h ago");
	EXPECT_EQ(ntmctl::ago(3 * 86400), "3d ago");
	EXPECT_EQ(ntmctl::ago(-1), "-");
}
