use serde_json::{Map, Value as Json, json};

use super::*;
use crate::diagnostic::Source;

fn vars() -> Map<String, Json> {
    let Json::Object(vars) = json!({
        "app": "mysite",
        "user": {"name": "bob", "uid": 1000},
        "items": [1, 2, 3],
        "group_names": ["web", "db"],
        "result": {"rc": 0, "changed": true, "failed": false},
        "bad": {"rc": 2},
        "flag": "yes",
        "off": "false",
        "nothing": null,
        "deploy_to": "/srv/app",
        "dbpassword": "s3cret",
    }) else {
        unreachable!()
    };
    vars
}

/// A one-line YAML file `key: <text>` with the template as a plain scalar.
fn span_for(text: &str) -> Span {
    Span::new(
        Source::new("deploy.yml", format!("cmd: {text}\n")),
        1,
        6,
        text.len() as u32,
    )
}

fn render(text: &str) -> String {
    Templates::new()
        .render(text, &vars(), &span_for(text))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn fail(text: &str) -> Diagnostic {
    Templates::new()
        .render(text, &vars(), &span_for(text))
        .unwrap_err()
}

fn value(text: &str) -> Json {
    Templates::new()
        .render_value(text, &vars(), &span_for(text))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn when(expr: &str) -> bool {
    Templates::new()
        .eval_bool(expr, &vars(), &span_for(expr))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn at(diag: &Diagnostic) -> (u32, u32, u32) {
    let span = diag.span.as_ref().unwrap();
    (span.line, span.col, span.len)
}

#[test]
fn plain_strings_take_the_fast_path() {
    let templates = Templates::new();
    // `{` alone and `}}` are no template: minijinja never sees them.
    assert_eq!(render("echo {a} }} %}"), "echo {a} }} %}");
    assert_eq!(
        templates
            .render_value("42", &vars(), &span_for("42"))
            .unwrap(),
        json!("42")
    );
    assert!(templates.variables("plain").is_empty());
}

#[test]
fn renders_like_ansible() {
    assert_eq!(render("{{ app }}-{{ user.name }}"), "mysite-bob");
    assert_eq!(render("{{ nothing }}|{{ true }}"), "|True");
    assert_eq!(
        render("a\n{% if flag | bool %}\nyes\n{% endif %}\nb\n"),
        "a\nyes\nb\n"
    );
    assert_eq!(
        render("{{ 'a,b'.split(',') | join('-') }} {{ 'x'.upper() }}"),
        "a-b X"
    );
    assert_eq!(
        render("{% for k, v in user.items() %}{{ k }}={{ v }} {% endfor %}"),
        "name=bob uid=1000 "
    );
}

#[test]
fn undefined_variable_points_at_its_column_with_did_you_mean() {
    let diag = fail("echo {{ dbpasword }}");
    assert_eq!(diag.message, "undefined variable `dbpasword`");
    assert_eq!(at(&diag), (1, 14, 9));
    assert_eq!(diag.help.as_deref(), Some("did you mean `dbpassword`?"));
    let diag = fail("{{ app }} {{ 'x' ~ dbpass }}");
    assert_eq!(at(&diag), (1, 25, 6));
}

#[test]
fn undefined_attribute_is_named_with_its_parent() {
    let diag = fail("{{ user.nmae }}");
    assert_eq!(diag.message, "undefined attribute `user.nmae`");
    assert_eq!(at(&diag), (1, 9, 9));
    assert_eq!(diag.help.as_deref(), Some("did you mean `user.name`?"));
    assert_eq!(fail("{{ items[7] }}").message, "undefined item `items[7]`");
}

#[test]
fn strict_mode_still_allows_defined_tests_and_default() {
    assert_eq!(
        render("{% if nope is defined %}a{% else %}b{% endif %}"),
        "b"
    );
    assert_eq!(
        render("{{ nope | default('d') }}/{{ nope | d('e') }}"),
        "d/e"
    );
    assert_eq!(render("{{ user.nmae | default('x') }}"), "x");
    assert_eq!(
        render("{{ '' | default('y', true) }}{{ '' | default('z') }}"),
        "y"
    );
    assert_eq!(render("{{ nope is undefined }}"), "True");
    assert!(
        fail("{% for i in nope %}{% endfor %}")
            .message
            .contains("`nope`")
    );
    assert!(fail("{% if nope %}{% endif %}").message.contains("`nope`"));
    // Unlike Ansible, strict minijinja cannot look into an undefined value, even
    // under `default`: the error says so.
    let diag = fail("{{ nope.port | default(22) }}");
    assert_eq!(diag.message, "undefined variable `nope`");
    assert!(
        diag.help
            .as_deref()
            .unwrap_or_default()
            .contains("guard only the last lookup"),
        "{diag}"
    );
    assert_eq!(
        render("{{ (nope | default({})).port | default(22) }}"),
        "22"
    );
}

#[test]
fn unknown_filter_test_and_function_suggest_known_ones() {
    let diag = fail("{{ app | qoute }}");
    assert_eq!(diag.message, "unknown filter `qoute`");
    assert_eq!(at(&diag), (1, 15, 5));
    assert_eq!(diag.help.as_deref(), Some("did you mean `quote`?"));
    let diag = fail("{{ result is sucess }}");
    assert_eq!(diag.message, "unknown test `sucess`");
    assert_eq!(diag.help.as_deref(), Some("did you mean `success`?"));
    assert_eq!(
        fail("{{ lokup('env', 'X') }}").message,
        "unknown function `lokup`"
    );
}

#[test]
fn syntax_errors_have_a_location() {
    let diag = fail("{{ app + }}");
    assert_eq!(
        diag.message,
        "invalid template: unexpected end of variable block"
    );
    assert_eq!(at(&diag).0, 1);
    let source = Source::new("deploy.yml", "cmd: |\n  echo a\n  {% if %}\n");
    let diag = Templates::new()
        .render("echo a\n{% if %}\n", &vars(), &Span::new(source, 1, 6, 1))
        .unwrap_err();
    assert!(
        diag.message.starts_with("invalid template: "),
        "{}",
        diag.message
    );
    assert_eq!(at(&diag).0, 3);
}

#[test]
fn errors_in_quoted_and_block_scalars_point_into_the_file() {
    let source = Source::new("deploy.yml", "- shell: \"echo {{ dbpass }}\"\n");
    let diag = Templates::new()
        .render("echo {{ dbpass }}", &vars(), &Span::new(source, 1, 10, 19))
        .unwrap_err();
    assert_eq!(at(&diag), (1, 19, 6));
    let source = Source::new(
        "deploy.yml",
        "- shell: |\n    cd {{ deploy_to }}\n    echo {{ dbpass }}\n",
    );
    let diag = Templates::new()
        .render(
            "cd {{ deploy_to }}\necho {{ dbpass }}\n",
            &vars(),
            &Span::new(source, 1, 10, 1),
        )
        .unwrap_err();
    assert_eq!(at(&diag), (3, 13, 6));
    assert!(diag.to_string().contains("deploy.yml:3:13"), "{diag}");
}

#[test]
fn filter_failures_carry_their_message() {
    let diag = fail("{{ nope | mandatory }}");
    assert_eq!(diag.message, "mandatory variable `nope` is undefined");
    assert_eq!(at(&diag), (1, 9, 4));
    assert_eq!(
        fail("{{ nope | mandatory('set nope') }}").message,
        "set nope"
    );
    let diag = fail("{{ app | regex_replace('(', 'x') }}");
    assert!(
        diag.message
            .starts_with("filter `regex_replace`: invalid regular expression `(`"),
        "{}",
        diag.message
    );
    assert_eq!(
        fail("{{ app | hash('crc') }}").message.split(':').next(),
        Some("filter `hash`")
    );
    assert_eq!(
        fail("{{ items | join(1, 2, 3) }}").message,
        "filter `join`: value is not a string"
    );
    assert_eq!(
        fail("{{ app.upper(1) }}").message,
        "method `upper`: too many arguments"
    );
    assert_eq!(
        fail("{{ items | combine({}) }}").message,
        "filter `combine`: expects dictionaries"
    );
}

#[test]
fn native_values_for_single_expressions() {
    assert_eq!(value("{{ items }}"), json!([1, 2, 3]));
    assert_eq!(value("  {{ user }} "), json!({"name": "bob", "uid": 1000}));
    assert_eq!(value("{{ items | length }}"), json!(3));
    assert_eq!(value("{{ items[0] > 0 }}"), json!(true));
    assert_eq!(value("{{ nothing }}"), json!(null));
    assert_eq!(value("{{- app -}}"), json!("mysite"));
    assert_eq!(value("{{ app }}s"), json!("mysites"));
    assert_eq!(
        value("{{ user | combine({'uid': 1}) }}"),
        json!({"name": "bob", "uid": 1})
    );
    let diag = Templates::new()
        .render_value("{{ dbpass }}", &vars(), &span_for("{{ dbpass }}"))
        .unwrap_err();
    assert_eq!(diag.message, "undefined variable `dbpass`");
    assert_eq!(at(&diag), (1, 9, 6));
}

#[test]
fn when_expressions() {
    assert!(when("flag is defined and flag | bool"));
    assert!(!when("nope is defined and nope | bool"));
    assert!(when("result.rc == 0"));
    assert!(when("'web' in group_names"));
    assert!(!when("'mail' in group_names"));
    assert!(when("result is succeeded and result is changed"));
    assert!(when("bad is failed and bad is not skipped"));
    assert!(!when("off"));
    assert!(when("flag"));
    assert!(!when("items | length == 0"));
    let diag = Templates::new()
        .eval_bool(
            "result.rc == 0 and dbpas",
            &vars(),
            &span_for("result.rc == 0 and dbpas"),
        )
        .unwrap_err();
    assert_eq!(diag.message, "undefined variable `dbpas`");
    assert_eq!(at(&diag), (1, 25, 5));
    let diag = Templates::new()
        .eval_bool("result.rc ==", &vars(), &span_for("result.rc =="))
        .unwrap_err();
    assert!(
        diag.message.starts_with("invalid template: "),
        "{}",
        diag.message
    );
}

#[test]
fn render_json_renders_keys_values_and_omits() {
    let args = json!({"path": "{{ deploy_to }}/shared", "mode": "{{ nope | default(omit) }}", "{{ app }}": ["{{ items }}", 5]});
    let rendered = Templates::new()
        .render_json(&args, &vars(), &span_for("x"))
        .unwrap();
    assert_eq!(
        rendered,
        json!({"path": "/srv/app/shared", "mysite": [[1, 2, 3], 5]})
    );
}

#[test]
fn module_args_errors_point_at_the_failing_string() {
    let file = "- copy:\n    dest: \"{{ deploy_to }}/.env\"\n    content: \"{{ dbpass }}\"\n";
    let node = crate::yaml::parse(&Source::new("deploy.yml", file)).unwrap();
    let crate::yaml::Value::Seq(tasks) = &node.value else {
        panic!("not a list")
    };
    let crate::yaml::Value::Map(task) = &tasks[0].value else {
        panic!("not a mapping")
    };
    let args = &task[0].1;
    let templates = Templates::new();
    let diag = templates.render_node(args, &vars()).unwrap_err();
    assert_eq!(at(&diag), (3, 18, 6));
    let diag = templates
        .render_json(&args.to_json(), &vars(), &args.span)
        .unwrap_err();
    assert_eq!(at(&diag), (3, 18, 6));
}

#[test]
fn conditions_in_braces_are_accepted() {
    assert!(when("{{ flag | bool }}"));
    assert!(!when("{{ off }}"));
}

#[test]
fn templates_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Templates>();
}

#[test]
fn variables_lists_what_a_template_needs() {
    let names = Templates::new().variables("{{ user.name }} {% for i in items %}{{ i }}{{ omit }}{% endfor %} {{ lookup('env', 'X') }}");
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["items", "user"]);
}

#[test]
fn quote_is_shlex_quote() {
    assert_eq!(render(r#"{{ "it's" | quote }}"#), r#"'it'"'"'s'"#);
    assert_eq!(render("{{ '' | quote }}"), "''");
    assert_eq!(
        render("{{ 'a-b_c/d.e:f,g=h+i@j%k' | quote }}"),
        "a-b_c/d.e:f,g=h+i@j%k"
    );
    assert_eq!(
        render("{{ 'a b;rm' | quote }} {{ 5 | quote }}"),
        "'a b;rm' 5"
    );
    assert_eq!(render("{{ '$HOME' | quote }}"), "'$HOME'");
}

#[test]
fn path_filters_are_pythons() {
    assert_eq!(
        render("{{ '/a/b.tar.gz' | basename }}|{{ '/a/b/' | basename }}"),
        "b.tar.gz|"
    );
    assert_eq!(
        render(
            "{{ '/a/b' | dirname }}|{{ '/a/b/' | dirname }}|{{ 'a' | dirname }}|{{ '/a' | dirname }}"
        ),
        "/a|/a/b||/"
    );
    assert_eq!(
        value("{{ '/a/b.tar.gz' | splitext }}"),
        json!(["/a/b.tar", ".gz"])
    );
    assert_eq!(value("{{ '.bashrc' | splitext }}"), json!([".bashrc", ""]));
}

#[test]
fn conversions_follow_ansible() {
    assert_eq!(
        render("{{ 'Yes' | bool }} {{ 'on' | bool }} {{ 1 | bool }} {{ 'TRUE' | bool }}"),
        "True True True True"
    );
    assert_eq!(
        render("{{ 'no' | bool }} {{ 'foo' | bool }} {{ 0 | bool }} {{ nothing | bool }}"),
        "False False False False"
    );
    assert_eq!(value("{{ '12' | int }}"), json!(12));
    assert_eq!(value("{{ '3.7' | int }}"), json!(3));
    assert_eq!(value("{{ 'junk' | int }}"), json!(0));
    assert_eq!(value("{{ 'ff' | int(base=16) }}"), json!(255));
    assert_eq!(value("{{ '2.5' | float }}"), json!(2.5));
    assert_eq!(value("{{ 5 | string }}"), json!("5"));
}

#[test]
fn data_filters() {
    assert_eq!(
        render("{{ user | to_json }}"),
        r#"{"name": "bob", "uid": 1000}"#
    );
    assert_eq!(
        render("{{ {'b': 1, 'a': 2} | to_nice_json }}"),
        "{\n    \"a\": 2,\n    \"b\": 1\n}"
    );
    assert_eq!(
        value(r#"{{ '{"a": [1]}' | from_json }}"#),
        json!({"a": [1]})
    );
    assert_eq!(render("{{ user | to_yaml }}"), "{name: bob, uid: 1000}\n");
    assert_eq!(
        render("{{ {'b': 1, 'a': 2} | to_json(sort_keys=true) }}"),
        r#"{"a": 2, "b": 1}"#
    );
    assert_eq!(
        render("{{ 'hello' | b64encode }}|{{ 'aGVsbG8=' | b64decode }}"),
        "aGVsbG8=|hello"
    );
    assert_eq!(
        value(
            "{{ {'a': {'x': 1}, 'l': [1]} | combine({'a': {'y': 2}, 'l': [2]}, recursive=true) }}"
        ),
        json!({"a": {"x": 1, "y": 2}, "l": [2]})
    );
    assert_eq!(
        value("{{ {'a': {'x': 1}} | combine({'a': {'y': 2}}) }}"),
        json!({"a": {"y": 2}})
    );
    assert_eq!(
        value("{{ [1, [2, [3, none]]] | flatten }}"),
        json!([1, 2, 3])
    );
    assert_eq!(
        value("{{ [1, [2, [3]]] | flatten(1) }}"),
        json!([1, 2, [3]])
    );
    assert_eq!(value("{{ [1, 2, 1, 3] | unique }}"), json!([1, 2, 3]));
    assert_eq!(
        value("{{ {'a': 1} | dict2items }}"),
        json!([{"key": "a", "value": 1}])
    );
    assert_eq!(
        value("{{ [{'key': 'a', 'value': 1}] | items2dict }}"),
        json!({"a": 1})
    );
    assert_eq!(
        value("{{ [{'n': 'x', 'v': 1}] | items2dict(key_name='n', value_name='v') }}"),
        json!({"x": 1})
    );
    assert_eq!(
        render(
            "{{ items | join(',') }} {{ items | length }} {{ ' A ' | trim | lower }} {{ 'a' | upper }}"
        ),
        "1,2,3 3 a A"
    );
    assert_eq!(
        value("{{ [user] | map(attribute='name') | list }}"),
        json!(["bob"])
    );
    assert_eq!(
        value("{{ [user] | selectattr('uid', 'gt', 10) | map(attribute='uid') | list }}"),
        json!([1000])
    );
    assert_eq!(render("{{ true | ternary('a', 'b') }}"), "a");
    assert_eq!(
        value("{{ ['name'] | map('extract', user) | list }}"),
        json!(["bob"])
    );
}

#[test]
fn regex_filters_translate_python_syntax() {
    assert_eq!(
        render(r"{{ 'ansible' | regex_replace('^a.*i(.*)$', 'a\\1') }}"),
        "able"
    );
    assert_eq!(
        render(
            r"{{ 'localhost:80' | regex_replace('^(?P<host>.+):(?P<port>\\d+)$', '\\g<host>, \\g<port>') }}"
        ),
        "localhost, 80"
    );
    assert_eq!(render("{{ 'a$b' | regex_replace('b', '$c$1') }}"), "a$$c$1");
    assert_eq!(render("{{ 'foobar' | regex_search('o+') }}"), "oo");
    assert_eq!(render("{{ 'foobar' | regex_search('x') }}"), "");
    assert_eq!(
        value(
            r"{{ 'server1/database42' | regex_search('server([0-9]+)/database([0-9]+)', '\\1', '\\2') }}"
        ),
        json!(["1", "42"])
    );
    assert_eq!(
        value(r"{{ 'a1b22' | regex_findall('\\d+') }}"),
        json!(["1", "22"])
    );
    assert!(when("'foobar' is match('foo')"));
    assert!(!when("'foobar' is match('bar')"));
    assert!(when("'foobar' is search('bar')"));
    assert!(when("'FOO' is search('foo', ignorecase=true)"));
}

#[test]
fn hashes() {
    assert_eq!(
        render("{{ 'test1' | hash('sha1') }}"),
        "b444ac06613fc8d63795be9ad0beaf55011936ac"
    );
    assert_eq!(
        render("{{ 'test1' | hash('md5') }}"),
        "5a105e8b9d40e1329780d62ea2265d8a"
    );
    assert_eq!(
        render("{{ 'test1' | checksum }}"),
        "b444ac06613fc8d63795be9ad0beaf55011936ac"
    );
    assert_eq!(
        render("{{ 'test1' | hash('sha256') }}"),
        "1b4f0e9851971998e732078544c96b36c3d01cedf7caa332359d6f1d83567014"
    );
}

#[test]
fn tests_on_values() {
    assert!(when("nothing is none and app is string and 5 is number"));
    assert!(when("result is success and not (result is skipped)"));
    let diag = Templates::new()
        .eval_bool("app is failed", &vars(), &span_for("app is failed"))
        .unwrap_err();
    assert!(
        diag.message.contains("registered result"),
        "{}",
        diag.message
    );
}

#[test]
fn lookup_env() {
    let path = std::env::var("PATH").unwrap_or_default();
    assert_eq!(render("{{ lookup('env', 'PATH') }}"), path);
    assert_eq!(render("{{ lookup('env', 'FERRY_SURELY_UNSET') }}"), "");
    assert_eq!(
        render("{{ lookup('env', 'FERRY_SURELY_UNSET', default='d') }}"),
        "d"
    );
    assert!(
        fail("{{ lookup('password', '/tmp/x') }}")
            .message
            .contains("unknown lookup `password`")
    );
}

#[test]
fn registered_names_are_known_to_did_you_mean() {
    let templates = Templates::new();
    for name in filters::FILTERS {
        let text = format!("{{{{ 1 | {name} }}}}");
        if let Err(diag) = templates.render(&text, &vars(), &span_for(&text)) {
            assert!(
                !diag.message.starts_with("unknown filter"),
                "{name}: {diag}"
            );
        }
    }
    for name in filters::TESTS
        .iter()
        .filter(|n| n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        let text = format!("{{{{ 1 is {name} }}}}");
        if let Err(diag) = templates.render(&text, &vars(), &span_for(&text)) {
            assert!(!diag.message.starts_with("unknown test"), "{name}: {diag}");
        }
    }
}

#[test]
fn errors_point_into_every_scalar_style_of_a_parsed_file() {
    let file = "a: \"x {{ u }}\"\nb: 'y {{ u }}'\nc: |\n  z\n  {{ u }}\nd: >-\n  w\n  {{ u }}\ne: plain {{ u }}\n";
    let node = crate::yaml::parse(&Source::new("t.yml", file)).unwrap();
    let crate::yaml::Value::Map(entries) = &node.value else {
        panic!("not a mapping")
    };
    let found: Vec<(u32, u32, u32)> = entries
        .iter()
        .map(|(_, v)| {
            at(&Templates::new()
                .render(v.as_str().unwrap(), &vars(), &v.span)
                .unwrap_err())
        })
        .collect();
    assert_eq!(
        found,
        [(1, 10, 1), (2, 10, 1), (5, 6, 1), (8, 6, 1), (9, 13, 1)]
    );
}

#[test]
fn includes_find_the_projects_template_first_and_count_its_variables() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("templates/part")).unwrap();
    std::fs::write(
        dir.path().join("templates/part/inner.j2"),
        "[{{ user.name }}]",
    )
    .unwrap();
    let templates = Templates::for_project(Some(dir.path()));
    let text = r#"{{ app }} {% include "part/inner.j2" %} {% include 'dotenv.j2' %}"#;
    let names = templates.variables(text);
    for name in ["app", "user", "app_env", "inventory_hostname"] {
        assert!(names.contains(name), "{name} not in {names:?}");
    }
    let mut vars = vars();
    vars.insert("app_env".into(), json!({"A": "1"}));
    vars.insert("inventory_hostname".into(), json!("web1"));
    let out = templates.render(text, &vars, &span_for(text)).unwrap();
    assert!(
        out.starts_with("mysite [bob] # Written by ferry for web1"),
        "{out}"
    );
    assert!(out.contains("A='1'") || out.contains("A=1"), "{out}");
}
