// SPDX-License-Identifier: GPL-2.0
/*
 * JSON form of the model (the -j output of ntmctl). Field names are the
 * snake_case of the uapi names; absent optional values are null; keys are
 * never part of it.
 */
#ifndef NTM_JSON_HPP
#define NTM_JSON_HPP

#include <string>

#include <nlohmann/json.hpp>

#include "ntm/model.hpp"

namespace ntm {

void to_json(nlohmann::json &j, const IpAddress &a);
void to_json(nlohmann::json &j, const Endpoint &e);
/** "10.2.0.0/16" */
void to_json(nlohmann::json &j, const Prefix &p);
void to_json(nlohmann::json &j, const Stats &s);
void to_json(nlohmann::json &j, const Device &d);
void to_json(nlohmann::json &j, const Tunnel &t);
void to_json(nlohmann::json &j, const RelayLeg &l);
void to_json(nlohmann::json &j, const Relay &r);
/**
 * Serialises compactly; bytes that are not UTF-8 (interface names may hold
 * any) are replaced by U+FFFD instead of throwing.
 */
std::string json_dump(const nlohmann::json &j);

/** "ifname" is resolved from the ifindex by the caller (null when empty). */
nlohmann::json event_to_json(const Event &ev, const std::string &ifname);

} // namespace ntm

#endif
