#!/bin/sh
# The pre-receive hook of a push target, written by `ferry remote add`.
#
# git runs it after receiving the pushed objects and before updating any
# ref: it deploys the pushed commit with `ferry deploy`, and its exit status
# decides the push. The pushed objects are still in git's quarantine
# directory here, so the commit is checked out into a fresh repository of
# its own that borrows both object directories (alternates): `ferry deploy`
# then reads it as it reads a developer's clone. What git does not carry
# (the secrets file, an uncommitted inventory) comes from the push target's
# project/ directory, which `ferry remote add` keeps up to date.
set -u
push=$(cd "$(dirname "$0")/../.." && pwd) || exit 1
# FERRY_STAGE, FERRY_BRANCH, FERRY_SUBDIR: see `ferry remote add`.
. "$push/push.conf" || exit 1
zero=0000000000000000000000000000000000000000
log=$push/hook.log
quarantine=${GIT_QUARANTINE_PATH:-}
case $quarantine in
'' | /*) ;;
*) quarantine=$PWD/$quarantine ;;
esac
unset GIT_DIR GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_QUARANTINE_PATH GIT_WORK_TREE GIT_INDEX_FILE
work=
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

say() { printf 'ferry: %s\n' "$*" | tee -a "$log"; }

new=
while read -r old_rev new_rev ref; do
	if [ "$ref" != "refs/heads/$FERRY_BRANCH" ]; then
		say "this remote deploys stage \`$FERRY_STAGE\` from branch \`$FERRY_BRANCH\` only: \`$ref\` is refused (push with \`git push REMOTE HEAD:$FERRY_BRANCH\`)"
		exit 1
	fi
	if [ "$new_rev" = "$zero" ]; then
		say "deleting \`$FERRY_BRANCH\` is refused: it names the revision stage \`$FERRY_STAGE\` serves"
		exit 1
	fi
	new=$new_rev
	: "$old_rev"
done
[ -n "$new" ] || exit 0

mkdir -p "$push/work" || exit 1
work=$(mktemp -d "$push/work/push.XXXXXX") || exit 1
{
	git init -q "$work" &&
		{
			[ -z "$quarantine" ] || echo "$quarantine"
			echo "$push/repo.git/objects"
		} >"$work/.git/objects/info/alternates" &&
		git -C "$work" -c advice.detachedHead=false checkout -q --detach "$new"
} 2>&1 | tee -a "$log"
if ! git -C "$work" rev-parse -q --verify HEAD >/dev/null; then
	say "cannot check out \`$new\`"
	exit 1
fi
project=$work/$FERRY_SUBDIR
# What git does not carry: copied (never on a command line), 0600.
(cd "$push/project" && find . -type f) | while read -r file; do
	if [ ! -e "$project/$file" ]; then
		mkdir -p "$(dirname "$project/$file")" &&
			cp -p "$push/project/$file" "$project/$file"
	fi
done

say "$(date -u +%Y-%m-%dT%H:%M:%SZ) deploying $new to stage \`$FERRY_STAGE\`"
{
	HOME=$push/home NO_COLOR=1 TERM=dumb "$push/bin/ferry" -C "$project" \
		deploy "$FERRY_STAGE" --rev "$new" \
		-e "ansible_ssh_private_key_file=$push/home/.ssh/id_ed25519" </dev/null 2>&1
	echo $? >"$work/status"
} | tee -a "$log"
status=$(cat "$work/status" 2>/dev/null || echo 1)
if [ "$status" = 0 ]; then
	say "stage \`$FERRY_STAGE\` serves $new: push accepted"
else
	say "the deploy failed (exit $status): push refused, \`$FERRY_BRANCH\` stays where it was"
fi
exit "$status"
