# SPDX-License-Identifier: GPL-2.0
# bash completion for ntmctl(8); installed as
# share/bash-completion/completions/ntmctl. Every command and option of
# ntmctl is listed here: tests/unit/test_cli_docs.cpp fails when one is not.

# _ntmctl_table PATH: sets cmds (subcommands) and opts (long options) of PATH
_ntmctl_table()
{
	cmds= opts=
	case $1 in
	'') cmds='show device tunnel relay monitor batch account dc status ike' opts='--version' ;;
	device) cmds='show set' ;;
	'device set') opts='--fwmark --acquire-qlen --roaming --acquire --max-relays --max-tunnels' ;;
	tunnel) cmds='add set del flush show' ;;
	'tunnel add') opts='--local-index --spi-in --remote-index --spi-out --encap --endpoint --vip4 --vip6
		--cipher --key --key-file --rx-key --rx-key-file --tx-salt --rx-salt --lifetime --roaming --esn
		--remote-ts --local-ts --soft-lifetime --soft-bytes --hard-bytes --soft-packets --hard-packets
		--tx-counter --replaces --takeover' ;;
	'tunnel set') opts='--local-index --spi-in --endpoint --lifetime --roaming --soft-lifetime --soft-bytes
		--hard-bytes --soft-packets --hard-packets --takeover' ;;
	'tunnel del' | 'tunnel show') opts='--local-index --spi-in' ;;
	relay) cmds='add set del flush show' ;;
	'relay add') opts='--id --leg1 --leg2 --index1 --index2 --hard-bytes --hard-packets --idle-timeout' ;;
	'relay set') opts='--id --leg1 --leg2 --hard-bytes --hard-packets --idle-timeout' ;;
	'relay del' | 'relay show') opts='--id' ;;
	monitor) opts='--count --timeout --no-timestamps --no-daemon --socket' ;;
	batch) opts='--force' ;;
	account) cmds='add del list' ;;
	'account add') opts='--fqdn --password-file --password-stdin --certificate --kdf-cost --db' ;;
	'account del' | 'account list') opts='--db' ;;
	dc) cmds='nodes keys' ;;
	'dc nodes' | 'dc keys') opts='--db' ;;
	status) opts='--socket' ;;
	ike) cmds='list initiate terminate rekey' ;;
	'ike list' | 'ike terminate') opts='--socket' ;;
	'ike initiate') opts='--no-wait --timeout --socket' ;;
	'ike rekey') opts='--child --socket' ;;
	esac
	opts="$opts --json --config --help"
}

_ntmctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local cmdpath= w i cmds opts
	# the command path so far: words that name commands; options and their values skipped
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-j | -h | --json | --help | --version | --esn | --force | --password-stdin | --certificate | --child | --no-wait | --*=* | -)
			continue ;;
		-*)
			((i++))
			continue ;;
		esac
		_ntmctl_table "$cmdpath"
		[[ " $cmds " == *" $w "* ]] && cmdpath=${cmdpath:+$cmdpath }$w
	done
	case $prev in
	--config | --key-file | --rx-key-file | --password-file | --db | --socket)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	--cipher)
		COMPREPLY=($(compgen -W 'aes-gcm chacha20-poly1305' -- "$cur"))
		return ;;
	--encap)
		COMPREPLY=($(compgen -W 'ntm esp-udp' -- "$cur"))
		return ;;
	--roaming | --acquire)
		COMPREPLY=($(compgen -W 'on off' -- "$cur"))
		return ;;
	--takeover)
		COMPREPLY=($(compgen -W 'now rx' -- "$cur"))
		return ;;
	--key | --rx-key)
		COMPREPLY=(-)
		return ;;
	esac
	_ntmctl_table "$cmdpath"
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	elif [[ -n $cmds ]]; then
		COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
	elif [[ $cmdpath == batch ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
	elif [[ $cmdpath == 'ike initiate' || $cmdpath == 'ike terminate' || $cmdpath == 'ike rekey' ]]; then
		COMPREPLY=()
	else
		# DEV: network interfaces
		COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
	fi
}
complete -F _ntmctl ntmctl
