# bash completion for connreset(8).
# Subcommands and options are read from `connreset [CMD] --help` when completing, so they never
# drift from the binary; only option values are known here.
_connreset_help_words() { # $1: subcommand or empty; prints the options/subcommands of that help
	local cmd=${COMP_WORDS[0]}
	# shellcheck disable=SC2086 # $1 is one word or nothing
	"$cmd" $1 --help 2>/dev/null | awk -v want="$2" '
		/^[A-Za-z ]*:$/ { sect = tolower($0); next }
		want == "subcommands" && sect ~ /subcommands/ && /^  [a-z]/ { print $1 }
		want == "options" && /^ +-/ {
			# "  -p,--pid UINT   description": options are the first column only
			n = split($1, names, ","); for (i = 1; i <= n; i++) print names[i]
		}'
}

_connreset() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} sub="" w i
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		[[ $w == -* ]] && continue
		sub=$w
		break
	done
	case $prev in
	--probes)
		mapfile -t COMPREPLY < <(compgen -W "auto tracepoint fentry kprobe" -- "$cur")
		return ;;
	-o | --output)
		if [[ $sub == record ]]; then
			mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "text json columns" -- "$cur")
		fi
		return ;;
	--out)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return ;;
	--html)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	--netns)
		mapfile -t COMPREPLY < <(compgen -f -- "${cur:-/run/netns/}")
		return ;;
	--cause)
		# the ids listed in the man page's CAUSES section, if the man page is installed
		local ids
		ids=$(man -P cat 8 connreset 2>/dev/null | awk '/^CAUSES/ { on = 1; next } /^[A-Z]/ { on = 0 }
			on && /^       [a-z_]+$/ { print $1 }')
		mapfile -t COMPREPLY < <(compgen -W "$ids" -- "$cur")
		return ;;
	-p | --pid | -P | --port | -c | --comm | -d | --duration | --cgroup | --ringbuf-kib | \
		--max-tracked | --settle-ms | --skew-ms | --loop-threshold | --max-size | --max-files | \
		--metrics | --since | --until)
		return ;; # a value nobody can guess
	esac
	if [[ -z $sub ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_connreset_help_words "" subcommands) --help --version" -- "$cur")
	elif [[ $cur == -* || $sub != report ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_connreset_help_words "$sub" options)" -- "$cur")
	else # report's journal files and directories
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
	fi
}
complete -F _connreset connreset
