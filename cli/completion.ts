/**
 * Shell completion scripts for `hq generate-completion` (journal-alloc spec §5.1), generated from
 * the same command tree as `--help`: every visible subcommand (aliases included), every visible
 * option with its help text, and the possible values of options and positionals.
 */
import { type ArgSpec, type Command, longName } from "./args.ts";

/** One option as a shell sees it. */
export interface CompletionOption {
  /** `--name` forms (the long name first, then aliases); empty for a short-only flag. */
  longs: string[];
  /** `-x`, if any. */
  short?: string;
  help: string;
  takesValue: boolean;
  /** Values to offer for the option's value. */
  values?: readonly string[];
}

/** One command of the tree with everything its completion offers. */
export interface CompletionNode {
  /** From the root, e.g. `["hq", "job", "list"]`. */
  path: string[];
  subcommands: Array<{ name: string; about: string }>;
  options: CompletionOption[];
  /** Values to offer for the positionals (the union of those with possible values). */
  positionalValues: readonly string[];
  /** Whether a positional of this command is free text or a path (files are offered). */
  hasFreePositional: boolean;
}

/** Flattens the tree under `root` (global options are part of every command's options). */
export function completionNodes<C>(root: Command<C>): CompletionNode[] {
  const globals = Object.entries(root.args).filter(([, arg]) => arg.global && !arg.hidden);
  const nodes: CompletionNode[] = [];
  const visit = (command: Command<C>, path: string[]) => {
    const own = Object.entries(command.args).filter(([, arg]) => !arg.global && !arg.hidden);
    const options = [...own, ...globals]
      .filter(([, arg]) => arg.kind !== "positional")
      .map(([key, arg]) => toOption(key, arg));
    options.push({ longs: ["--help"], short: "h", help: "Print help", takesValue: false });
    if (command === root) {
      options.push({ longs: ["--version"], short: "V", help: "Print version", takesValue: false });
    }
    const positionals = own.filter(([, arg]) => arg.kind === "positional").map(([, arg]) => arg);
    const visible = command.subcommands.filter((sub) => !sub.hidden);
    nodes.push({
      path,
      subcommands: visible.flatMap((sub) =>
        [sub.name, ...sub.aliases].map((name) => ({ name, about: sub.about }))
      ),
      options,
      positionalValues: positionals.flatMap((arg) => arg.possibleValues ?? []),
      hasFreePositional: positionals.some((arg) => !arg.possibleValues),
    });
    for (const sub of visible) {
      visit(sub, [...path, sub.name]);
      // An alias leads to the same command: give it the same completions.
      for (const alias of sub.aliases) visit(sub, [...path, alias]);
    }
  };
  visit(root, [root.name]);
  return nodes;
}

function toOption(key: string, arg: ArgSpec<unknown>): CompletionOption {
  const longs = arg.shortOnly
    ? []
    : [`--${longName(key, arg)}`, ...(arg.aliases ?? []).map((a) => `--${a}`)];
  return {
    longs,
    short: arg.short,
    help: arg.help,
    takesValue: arg.kind === "option",
    values: arg.possibleValues,
  };
}

export type CompletionShell = "bash" | "elvish" | "fish" | "powershell" | "zsh";

/** The completion script of `shell` for the program `root.name`. */
export function renderCompletion<C>(shell: CompletionShell, root: Command<C>): string {
  const nodes = completionNodes(root);
  switch (shell) {
    case "bash":
      return renderBash(root.name, nodes);
    case "zsh":
      return renderZsh(root.name, nodes);
    case "fish":
      return renderFish(root.name, nodes);
    case "elvish":
      return renderElvish(root.name, nodes);
    case "powershell":
      return renderPowershell(root.name, nodes);
  }
}

/** The key of a node in the scripts' tables: `hq__job__list`. */
function nodeKey(path: string[]): string {
  return path.map((part) => part.replace(/[^A-Za-z0-9_]/g, "_")).join("__");
}

function optionWords(option: CompletionOption): string[] {
  return [...option.longs, ...(option.short ? [`-${option.short}`] : [])];
}

/** Single-quoted for POSIX shells, fish and zsh. */
function shQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function renderBash(program: string, nodes: CompletionNode[]): string {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const specCases: string[] = [];
  const valueCases: string[] = [];
  for (const node of nodes) {
    const key = nodeKey(node.path);
    const words = [
      ...node.subcommands.map((sub) => sub.name),
      ...node.options.flatMap(optionWords),
      ...node.positionalValues,
    ];
    const valued = node.options.filter((o) => o.takesValue).flatMap(optionWords);
    specCases.push(
      `    ${key})\n      subs=${shQuote(node.subcommands.map((s) => s.name).join(" "))}\n` +
        `      words=${shQuote(words.join(" "))}\n      valued=${shQuote(valued.join(" "))}\n` +
        `      files=${node.hasFreePositional ? 1 : 0}\n      ;;`,
    );
    for (const option of node.options) {
      if (!option.values) continue;
      const pattern = optionWords(option).map((word) => `${key}:${word}`).join("|");
      valueCases.push(
        `    ${pattern})\n      values=${shQuote(option.values.join(" "))}\n      ;;`,
      );
    }
  }
  return `# bash completion for ${program}, generated by \`${program} generate-completion bash\`.
${fn}_spec() {
  subs=""
  words=""
  valued=""
  files=0
  case "$1" in
${specCases.join("\n")}
  esac
}

${fn}_values() {
  values=""
  case "$1:$2" in
${valueCases.join("\n")}
  esac
}

${fn}() {
  local cur prev node word i skip subs words valued files values
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev=""
  node=${shQuote(nodeKey([program]))}
  skip=0
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if [[ $skip == 1 ]]; then
      skip=0
      continue
    fi
    ${fn}_spec "$node"
    if [[ $word == -* ]]; then
      if [[ $word != *=* && " $valued " == *" $word "* ]]; then
        skip=1
      fi
    elif [[ " $subs " == *" $word "* ]]; then
      node="\${node}__\${word//[^A-Za-z0-9_]/_}"
    fi
  done
  if [[ $skip == 1 ]]; then
    prev="\${COMP_WORDS[COMP_CWORD - 1]}"
    ${fn}_values "$node" "$prev"
    if [[ -n $values ]]; then
      COMPREPLY=($(compgen -W "$values" -- "$cur"))
    else
      COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
  fi
  ${fn}_spec "$node"
  if [[ $cur == --*=* ]]; then
    ${fn}_values "$node" "\${cur%%=*}"
    COMPREPLY=($(compgen -P "\${cur%%=*}=" -W "$values" -- "\${cur#*=}"))
    return 0
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  if [[ \${#COMPREPLY[@]} == 0 && $files == 1 && $cur != -* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
  return 0
}

complete -F ${fn} -o bashdefault -o default ${program}
`;
}

function renderZsh(program: string, nodes: CompletionNode[]): string {
  const fn = `_${program.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const specCases: string[] = [];
  const valueCases: string[] = [];
  for (const node of nodes) {
    const key = nodeKey(node.path);
    const described = [
      ...node.subcommands.map((sub) => `${escapeZshColon(sub.name)}:${sub.about}`),
      ...node.options.flatMap((o) => optionWords(o).map((w) => `${escapeZshColon(w)}:${o.help}`)),
      ...node.positionalValues.map((value) => escapeZshColon(value)),
    ];
    const valued = node.options.filter((o) => o.takesValue).flatMap(optionWords);
    specCases.push(
      `    ${key})\n      subs=(${node.subcommands.map((s) => shQuote(s.name)).join(" ")})\n` +
        `      described=(\n${
          described.map((d) => `        ${shQuote(d)}`).join("\n")
        }\n      )\n` +
        `      valued=(${valued.map(shQuote).join(" ")})\n      files=${
          node.hasFreePositional ? 1 : 0
        }\n      ;;`,
    );
    for (const option of node.options) {
      if (!option.values) continue;
      const pattern = optionWords(option).map((word) => `${key}:${word}`).join("|");
      valueCases.push(
        `    (${pattern})\n      values=(${option.values.map(shQuote).join(" ")})\n      ;;`,
      );
    }
  }
  return `#compdef ${program}
# zsh completion for ${program}, generated by \`${program} generate-completion zsh\`.
${fn}_spec() {
  subs=()
  described=()
  valued=()
  files=0
  case "$1" in
${specCases.join("\n")}
  esac
}

${fn}_values() {
  values=()
  case "$1:$2" in
${valueCases.join("\n")}
  esac
}

${fn}() {
  local node word i skip files
  local -a subs described valued values
  node=${shQuote(nodeKey([program]))}
  skip=0
  for ((i = 2; i < CURRENT; i++)); do
    word="\${words[i]}"
    if (( skip )); then
      skip=0
      continue
    fi
    ${fn}_spec "$node"
    if [[ $word == -* ]]; then
      if [[ $word != *=* && \${valued[(Ie)$word]} -gt 0 ]]; then
        skip=1
      fi
    elif (( \${subs[(Ie)$word]} )); then
      node="\${node}__\${word//[^A-Za-z0-9_]/_}"
    fi
  done
  if (( skip )); then
    ${fn}_values "$node" "\${words[CURRENT - 1]}"
    if (( \${#values} )); then
      compadd -a values
    else
      _files
    fi
    return
  fi
  ${fn}_spec "$node"
  _describe -t commands '${program}' described
  if (( files )) && [[ \${words[CURRENT]} != -* ]]; then
    _files
  fi
}

if [[ "\${funcstack[1]}" == "${fn}" ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${program}
fi
`;
}

function escapeZshColon(text: string): string {
  return text.replace(/:/g, "\\:");
}

function renderFish(program: string, nodes: CompletionNode[]): string {
  const fn = `__fish_${program.replace(/[^A-Za-z0-9_]/g, "_")}`;
  const lines: string[] = [];
  const valuedAll = new Set<string>();
  const subTable: string[] = [];
  for (const node of nodes) {
    const key = nodeKey(node.path);
    const when = `${fn}_at ${key}`;
    for (const option of node.options) {
      if (option.takesValue) {
        for (const word of optionWords(option)) valuedAll.add(`${key}:${word}`);
      }
      const parts = [`complete -c ${program} -n ${shQuote(when)}`];
      if (option.longs[0]) parts.push(`-l ${option.longs[0].slice(2)}`);
      if (option.short) parts.push(`-s ${option.short}`);
      if (option.takesValue) parts.push("-r");
      if (option.values) parts.push(`-f -a ${shQuote(option.values.join(" "))}`);
      parts.push(`-d ${shQuote(option.help)}`);
      lines.push(parts.join(" "));
      for (const alias of option.longs.slice(1)) {
        lines.push(
          `complete -c ${program} -n ${shQuote(when)} -l ${alias.slice(2)}${
            option.takesValue ? " -r" : ""
          } -d ${shQuote(option.help)}`,
        );
      }
    }
    for (const sub of node.subcommands) {
      lines.push(
        `complete -c ${program} -n ${shQuote(when)} -f -a ${shQuote(sub.name)} -d ${
          shQuote(sub.about)
        }`,
      );
    }
    if (node.positionalValues.length > 0) {
      lines.push(
        `complete -c ${program} -n ${shQuote(when)} -f -a ${
          shQuote(node.positionalValues.join(" "))
        }`,
      );
    }
    if (node.subcommands.length > 0 && !node.hasFreePositional) {
      lines.push(`complete -c ${program} -n ${shQuote(when)} -f`);
    }
    if (node.subcommands.length > 0) {
      subTable.push(`${key}:${node.subcommands.map((s) => s.name).join(":")}`);
    }
  }
  return `# fish completion for ${program}, generated by \`${program} generate-completion fish\`.
function ${fn}_node
    set -l node ${nodeKey([program])}
    set -l skip 0
    set -l tokens (commandline -opc)
    set -e tokens[1]
    for word in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        if string match -q -- '-*' $word
            if not string match -q -- '*=*' $word; and contains -- "$node:$word" ${
    [...valuedAll].map(shQuote).join(" ")
  }
                set skip 1
            end
            continue
        end
        for entry in ${subTable.map(shQuote).join(" ")}
            set -l fields (string split ':' -- $entry)
            if test "$fields[1]" = "$node"; and contains -- $word $fields[2..-1]
                set node "$node"__(string replace -ra '[^A-Za-z0-9_]' _ -- $word)
                break
            end
        end
    end
    echo $node
end

function ${fn}_at
    test (${fn}_node) = $argv[1]
end

${lines.join("\n")}
`;
}

/** Single-quoted for elvish and PowerShell (a quote is doubled). */
function doubledQuote(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function renderElvish(program: string, nodes: CompletionNode[]): string {
  const entries: string[] = [];
  for (const node of nodes) {
    const candidates: string[] = [];
    for (const option of node.options) {
      for (const word of optionWords(option)) {
        candidates.push(`            cand ${doubledQuote(word)} ${doubledQuote(option.help)}`);
      }
    }
    for (const sub of node.subcommands) {
      candidates.push(`            cand ${doubledQuote(sub.name)} ${doubledQuote(sub.about)}`);
    }
    for (const value of node.positionalValues) {
      candidates.push(`            cand ${doubledQuote(value)} ''`);
    }
    entries.push(
      `        &${doubledQuote(node.path.join(";"))}= {\n${candidates.join("\n")}\n        }`,
    );
  }
  const subs = nodes.filter((node) => node.subcommands.length > 0).map((node) =>
    `        &${doubledQuote(node.path.join(";"))}= [${
      node.subcommands.map((s) => doubledQuote(s.name)).join(" ")
    }]`
  );
  return `# elvish completion for ${program}, generated by \`${program} generate-completion elvish\`.
use builtin
use str

set edit:completion:arg-completer[${program}] = {|@words|
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '$desc
    }
    var subcommands = [
${subs.join("\n")}
    ]
    var command = ${doubledQuote(program)}
    for word $words[1..-1] {
        if (and (has-key $subcommands $command) (has-value $subcommands[$command] $word)) {
            set command = $command';'$word
        }
    }
    var completions = [
${entries.join("\n")}
    ]
    if (has-key $completions $command) {
        $completions[$command]
    }
}
`;
}

function renderPowershell(program: string, nodes: CompletionNode[]): string {
  const cases: string[] = [];
  for (const node of nodes) {
    const results: string[] = [];
    for (const option of node.options) {
      for (const word of optionWords(option)) {
        results.push(
          `            [CompletionResult]::new(${doubledQuote(word)}, ${
            doubledQuote(word.replace(/^-+/, ""))
          }, [CompletionResultType]::ParameterName, ${doubledQuote(option.help)})`,
        );
      }
    }
    for (const sub of node.subcommands) {
      results.push(
        `            [CompletionResult]::new(${doubledQuote(sub.name)}, ${
          doubledQuote(sub.name)
        }, [CompletionResultType]::ParameterValue, ${doubledQuote(sub.about)})`,
      );
    }
    for (const value of node.positionalValues) {
      results.push(
        `            [CompletionResult]::new(${doubledQuote(value)}, ${
          doubledQuote(value)
        }, [CompletionResultType]::ParameterValue, ${doubledQuote(value)})`,
      );
    }
    cases.push(
      `        ${doubledQuote(node.path.join(";"))} {\n${
        results.join("\n")
      }\n            break\n        }`,
    );
  }
  const subs = nodes.filter((node) => node.subcommands.length > 0).map((node) =>
    `    ${doubledQuote(node.path.join(";"))} = @(${
      node.subcommands.map((s) => doubledQuote(s.name)).join(", ")
    })`
  );
  return `# PowerShell completion for ${program}, generated by \`${program} generate-completion powershell\`.
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName ${doubledQuote(program)} -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $subcommands = @{
${subs.join("\n")}
    }
    $command = ${doubledQuote(program)}
    $elements = $commandAst.CommandElements
    for ($i = 1; $i -lt $elements.Count; $i++) {
        $element = $elements[$i]
        if ($element -isnot [StringConstantExpressionAst] -or
            $element.StringConstantType -ne [StringConstantType]::BareWord -or
            $element.Value -eq $wordToComplete) {
            continue
        }
        if ($subcommands.ContainsKey($command) -and $subcommands[$command] -contains $element.Value) {
            $command = $command + ';' + $element.Value
        }
    }

    $completions = @(switch ($command) {
${cases.join("\n")}
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
`;
}
