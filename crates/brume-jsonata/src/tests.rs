//! Expressions from the JSONata documentation's examples, with inputs of our own.

use serde_json::{Map, Value as Json, json};

use crate::compile;

fn run(expr: &str, input: Option<Json>, bindings: Json) -> Result<Option<Json>, crate::Error> {
    let Json::Object(bindings) = bindings else { panic!("bindings are an object") };
    compile(expr)?.evaluate(input.as_ref(), &bindings)
}

#[track_caller]
fn check(expr: &str, input: Json, expected: Json) {
    let got = run(expr, Some(input), json!({})).unwrap_or_else(|e| panic!("{expr}: {e}"));
    assert_eq!(got, Some(expected), "{expr}");
}

#[track_caller]
fn undefined(expr: &str, input: Json) {
    let got = run(expr, Some(input), json!({})).unwrap_or_else(|e| panic!("{expr}: {e}"));
    assert_eq!(got, None, "{expr}");
}

#[track_caller]
fn fails(expr: &str, input: Json, code: &str) -> String {
    match run(expr, Some(input), json!({})) {
        Err(e) => {
            assert_eq!(e.code, code, "{expr}: {}", e.message);
            e.message
        }
        Ok(v) => panic!("{expr}: expected {code}, got {v:?}"),
    }
}

fn address() -> Json {
    json!({
        "FirstName": "Fred",
        "Surname": "Smith",
        "Age": 28,
        "Address": {"Street": "Hursley Park", "City": "Winchester", "Postcode": "SO21 2JN"},
        "Phone": [
            {"type": "home", "number": "0203 544 1234"},
            {"type": "office", "number": "01962 001234"},
            {"type": "office", "number": "01962 001235"},
            {"type": "mobile", "number": "077 7700 1234"}
        ],
        "Email": [
            {"type": "work", "address": ["fred.smith@my-work.com", "fsmith@my-work.com"]},
            {"type": "home", "address": ["freddy@my-social.com", "frederic.smith@very-serious.com"]}
        ],
        "Other": {"Over 18 ?": true, "Misc": null, "Alternative.Address": {"Street": "Brick Lane", "City": "London"}}
    })
}

fn orders() -> Json {
    json!({"Account": {
        "Account Name": "Firefly",
        "Order": [
            {"OrderID": "order103", "Product": [
                {"Product Name": "Bowler Hat", "ProductID": 858383, "SKU": "0406654608", "Price": 34.45, "Quantity": 2},
                {"Product Name": "Trilby hat", "ProductID": 858236, "SKU": "0406634348", "Price": 21.67, "Quantity": 1}
            ]},
            {"OrderID": "order104", "Product": [
                {"Product Name": "Bowler Hat", "ProductID": 858383, "SKU": "040657863", "Price": 34.45, "Quantity": 4},
                {"Product Name": "Cloak", "ProductID": 345664, "SKU": "0406654603", "Price": 107.99, "Quantity": 1}
            ]}
        ]
    }})
}

#[test]
fn paths_and_sequences() {
    let a = address();
    check("Surname", a.clone(), json!("Smith"));
    check("Address.City", a.clone(), json!("Winchester"));
    check("Other.Misc", a.clone(), json!(null));
    undefined("Other.Nothing", a.clone());
    check("Other.`Over 18 ?`", a.clone(), json!(true));
    check("Phone[0].number", a.clone(), json!("0203 544 1234"));
    check("Phone[-1].number", a.clone(), json!("077 7700 1234"));
    check("Phone[0..1].type", a.clone(), json!(["home", "office"]));
    check("Phone.number[0]", a.clone(), json!(["0203 544 1234", "01962 001234", "01962 001235", "077 7700 1234"]));
    check("(Phone.number)[0]", a.clone(), json!("0203 544 1234"));
    check("Phone[[0..1]].number", a.clone(), json!(["0203 544 1234", "01962 001234"]));
    check("Phone[type='mobile'].number", a.clone(), json!("077 7700 1234"));
    check("Phone[type='office'].number", a.clone(), json!(["01962 001234", "01962 001235"]));
    check("Phone[type='mobile'].number[]", a.clone(), json!(["077 7700 1234"]));
    check(
        "Email.address",
        a.clone(),
        json!([
            "fred.smith@my-work.com",
            "fsmith@my-work.com",
            "freddy@my-social.com",
            "frederic.smith@very-serious.com"
        ]),
    );
    check("Email[type='home'].address[1]", a.clone(), json!("frederic.smith@very-serious.com"));
    check("Address.*", a.clone(), json!(["Hursley Park", "Winchester", "SO21 2JN"]));
    check("*.Postcode", a.clone(), json!("SO21 2JN"));
    check("**.Postcode", a.clone(), json!("SO21 2JN"));
    check("$count(**.City)", a.clone(), json!(2));
    check("$[0]", json!([1, 2, 3]), json!(1));
    check("$[-1]", json!([1, 2, 3]), json!(3));
    check("$", json!([1, 2, 3]), json!([1, 2, 3]));
    check("$[1..2]", json!([1, 2, 3]), json!([2, 3]));
    check("$[[1..2]]", json!([1, 2, 3]), json!([2, 3]));
    check("a[0]", json!({"a": [[1, 2], [3]]}), json!([1, 2]));
    check("a.b", json!({"a": [{"b": [1, 2]}, {"b": 3}]}), json!([1, 2, 3]));
    check("$.a", json!({"a": 5}), json!(5));
    check("($a$b := 2; $a$b)", json!({}), json!(2));
    check("\tcafé\n.prix", json!({"café": {"prix": 3}}), json!(3));
    check("$$.a", json!({"a": 5}), json!(5));
    check("a.[b, c]", json!({"a": [{"b": 1, "c": 2}, {"b": 3, "c": 4}]}), json!([[1, 2], [3, 4]]));
    check("a.[b]", json!({"a": {"b": 1}}), json!([1]));
    check("[a]", json!({"a": 1}), json!([1]));
    check("a[]", json!({"a": 1}), json!([1]));
    undefined("nothing.here", json!({"a": 1}));
    check("Account.Order.Product.Price", orders(), json!([34.45, 21.67, 34.45, 107.99]));
    check("Account.Order[0].OrderID", orders(), json!("order103"));
    check("Account.Order.Product[Price > 30].`Product Name`", orders(), json!(["Bowler Hat", "Bowler Hat", "Cloak"]));
    check("a.\"Product Name\"", json!({"a": {"Product Name": "x"}}), json!("x"));
    check("\"Product Name\"", json!({"Product Name": "x"}), json!("Product Name"));
}

#[test]
fn literals_and_operators() {
    let n = json!({});
    check("1 + 2 * 3", n.clone(), json!(7));
    check("(1 + 2) * 3", n.clone(), json!(9));
    check("7 % 3", n.clone(), json!(1));
    check("-7 % 3", n.clone(), json!(-1));
    check("10 / 4", n.clone(), json!(2.5));
    check("0.1 + 0.2", n.clone(), json!(0.30000000000000004));
    check("1e3", n.clone(), json!(1000));
    check("-(1 + 2)", n.clone(), json!(-3));
    check("1 = 1", n.clone(), json!(true));
    check("1 != 1", n.clone(), json!(false));
    check("'a' < 'b'", n.clone(), json!(true));
    check("2 >= 2", n.clone(), json!(true));
    check("\"a\" & 1 & true & null", n.clone(), json!("a1truenull"));
    check("'x' & nothing", n.clone(), json!("x"));
    check("true and false", n.clone(), json!(false));
    check("true or false", n.clone(), json!(true));
    check("nothing or 1", n.clone(), json!(true));
    check("3 in [1, 2, 3]", n.clone(), json!(true));
    check("'a' in 'a'", n.clone(), json!(true));
    check("4 in [1, 2, 3]", n.clone(), json!(false));
    check("[1..5]", n.clone(), json!([1, 2, 3, 4, 5]));
    check("[1..3, 7]", n.clone(), json!([1, 2, 3, 7]));
    check("[5..1]", n.clone(), json!([]));
    check("[[1, 2], [3]]", n.clone(), json!([[1, 2], [3]]));
    check("[1, [2, 3]]", n.clone(), json!([1, [2, 3]]));
    check("{'a': 1, 'b': [1, 2]}", n.clone(), json!({"a": 1, "b": [1, 2]}));
    check("{'a': nothing}", n.clone(), json!({}));
    check("true ? 'y' : 'n'", n.clone(), json!("y"));
    check("0 ? 'y' : 'n'", n.clone(), json!("n"));
    undefined("false ? 'y'", n.clone());
    check("'' ?: 'default'", n.clone(), json!("default"));
    check("'v' ?: 'default'", n.clone(), json!("v"));
    check("nothing ?? 'default'", n.clone(), json!("default"));
    check("0 ?? 'default'", n.clone(), json!(0));
    check("\"\\u00e9\\n\\\"\"", n.clone(), json!("é\n\""));
    check("/* comment */ 1 /* another */ + 1", n.clone(), json!(2));
    check("a = b", json!({"a": [1, 2], "b": [1, 2]}), json!(true));
    check("a = b", json!({"a": {"x": 1}, "b": {"x": 1}}), json!(true));
    check("nothing = nothing", n.clone(), json!(false));
    undefined("nothing < 1", n.clone());
    undefined("nothing + 1", n.clone());
    check("9007199254740993 > 1", n.clone(), json!(true));
    check("2.5 * 2", n.clone(), json!(5));
    check("1.5e300 * 1", n.clone(), json!(1.5e300));
    check("2 * 4611686018427387904", n.clone(), json!(9223372036854775808u64));
    check("-1e18", n.clone(), json!(-1000000000000000000i64));
}

#[test]
fn blocks_variables_and_functions() {
    let n = json!({});
    check("($a := 3; $b := 4; $a * $b)", n.clone(), json!(12));
    check("($a := 1; ($a := 2); $a)", n.clone(), json!(1));
    check("$", json!(null), json!(null));
    check("($factorial := function($x){ $x <= 1 ? 1 : $x * $factorial($x-1) }; $factorial(5))", n.clone(), json!(120));
    check("(λ($x, $y){ $x + $y })(2, 3)", n.clone(), json!(5));
    check("($f := function($x)<n:n>{ $x * 2 }; $f(4))", n.clone(), json!(8));
    check("($add := function($x, $y){ $x + $y }; $inc := $add(?, 1); $inc(41))", n.clone(), json!(42));
    check("($first5 := $substring(?, 0, 5); $first5('Hello, World'))", n.clone(), json!("Hello"));
    check("'hello' ~> $uppercase()", n.clone(), json!("HELLO"));
    check("'  a  b ' ~> $trim() ~> $uppercase()", n.clone(), json!("A B"));
    check("($f := $uppercase ~> $substring(?, 0, 2); $f('hello'))", n.clone(), json!("HE"));
    check("[1, 2, 3] ~> $map(function($v){ $v * 2 })", n.clone(), json!([2, 4, 6]));
    check(
        "($twice := function($f){ function($x){ $f($f($x)) } }; $twice(function($v){ $v + 3 })(1))",
        n.clone(),
        json!(7),
    );
    check("($c := 10; $f := function($x){ $x + $c }; $c := 20; $f(1))", n.clone(), json!(21));
    check("($c := 10; $f := function($x){ $x + $c }; ($c := 20); $f(1))", n.clone(), json!(11));
    check("$type(function(){1})", n.clone(), json!("function"));
    check("Phone.$uppercase(type)", address(), json!(["HOME", "OFFICE", "OFFICE", "MOBILE"]));
    check("Phone.type.$uppercase()", address(), json!(["HOME", "OFFICE", "OFFICE", "MOBILE"]));
    undefined("(function(){1})", n.clone());
}

#[test]
fn bindings_and_states() {
    let got = run("$states.input.x + $y", None, json!({"states": {"input": {"x": 2}}, "y": 40})).unwrap();
    assert_eq!(got, Some(json!(42)));
    assert_eq!(run("$", None, json!({})).unwrap(), None);
    assert_eq!(run("$now() = $now()", None, json!({})).unwrap(), Some(json!(true)));
    assert_eq!(run("$millis() = $millis()", None, json!({})).unwrap(), Some(json!(true)));
    assert_eq!(
        run("$string($states.input)", None, json!({"states": {"input": {"a": [1]}}})).unwrap(),
        Some(json!("{\"a\":[1]}"))
    );
}

#[test]
fn grouping_sorting_and_bindings() {
    let o = orders();
    check(
        "Account.Order.Product{`Product Name`: Price}",
        o.clone(),
        json!({"Bowler Hat": [34.45, 34.45], "Trilby hat": 21.67, "Cloak": 107.99}),
    );
    check(
        "Account.Order.Product{`Product Name`: $sum(Quantity)}",
        o.clone(),
        json!({"Bowler Hat": 6, "Trilby hat": 1, "Cloak": 1}),
    );
    check(
        "Account.Order.{'id': OrderID, 'n': $count(Product)}",
        o.clone(),
        json!([{"id": "order103", "n": 2}, {"id": "order104", "n": 2}]),
    );
    check("Account.Order.Product^(Price).Price", o.clone(), json!([21.67, 34.45, 34.45, 107.99]));
    check("Account.Order.Product^(>Price, Quantity).Quantity", o.clone(), json!([1, 2, 4, 1]));
    check("[3, 1, 2]^($)", json!({}), json!([1, 2, 3]));
    let library = json!({
        "loans": [{"isbn": "1", "customer": "a"}, {"isbn": "2", "customer": "b"}],
        "books": [{"isbn": "2", "title": "Two"}, {"isbn": "1", "title": "One"}]
    });
    check(
        "loans@$l.books@$b[$l.isbn = $b.isbn].{'c': $l.customer, 't': $b.title}",
        library.clone(),
        json!([{"c": "a", "t": "One"}, {"c": "b", "t": "Two"}]),
    );
    check("loans@$l.books@$b[$l.isbn = $b.isbn]{$l.customer: $b.title}", library, json!({"a": "One", "b": "Two"}));
    check(
        "Account.Order#$i.Product.{'i': $i, 'p': ProductID}",
        o.clone(),
        json!([{"i": 0, "p": 858383}, {"i": 0, "p": 858236}, {"i": 1, "p": 858383}, {"i": 1, "p": 345664}]),
    );
    check("$#$i[$i > 0]", json!(["a", "b", "c"]), json!(["b", "c"]));
    check(
        "Account.Order.Product#$i[Quantity > 1].{'i': $i, 'q': Quantity}",
        o.clone(),
        json!([{"i": 0, "q": 2}, {"i": 0, "q": 4}]),
    );
    check(
        "Account.Order@$o.$o.Product[Price > 100]{$o.OrderID: `Product Name`}",
        o.clone(),
        json!({"order104": "Cloak"}),
    );
    check("{'k': 'v'}", json!([1, 2]), json!({"k": "v"}));
    check("$.{'v': $}", json!([1, 2]), json!([{"v": 1}, {"v": 2}]));
}

#[test]
fn transforms() {
    let o = orders();
    check(
        "$ ~> |Account.Order.Product|{'Price': Price * 2}, ['SKU', 'ProductID']| ~> $lookup('Account') ~> $lookup('Order') ~> $lookup('Product')",
        o.clone(),
        json!([
            {"Product Name": "Bowler Hat", "Price": 68.9, "Quantity": 2},
            {"Product Name": "Trilby hat", "Price": 43.34, "Quantity": 1},
            {"Product Name": "Bowler Hat", "Price": 68.9, "Quantity": 4},
            {"Product Name": "Cloak", "Price": 215.98, "Quantity": 1}
        ]),
    );
    check("$ ~> |a|{'c': 3}, 'b'|", json!({"a": {"b": 1, "x": 2}}), json!({"a": {"x": 2, "c": 3}}));
    check("$ ~> |$|{}, 'secret'|", json!({"secret": 1, "public": 2}), json!({"public": 2}));
    fails("$ ~> |a|5|", json!({"a": {}}), "T2011");
    fails("$ ~> |a|{}, 5|", json!({"a": {}}), "T2012");
}

#[test]
fn string_functions() {
    let n = json!({});
    check("$string(5)", n.clone(), json!("5"));
    check("$string(0.1 + 0.2)", n.clone(), json!("0.3"));
    check("$string(1e21)", n.clone(), json!("1e+21"));
    check("$string(1e-7)", n.clone(), json!("1e-7"));
    check("$string(12345678901234567)", n.clone(), json!("12345678901234568"));
    check("$string([1/3, 2])", n.clone(), json!("[0.333333333333333,2]"));
    check("$string({'a': [1, true, null, 'x']})", n.clone(), json!("{\"a\":[1,true,null,\"x\"]}"));
    check("$string({'a': 1}, true)", n.clone(), json!("{\n  \"a\": 1\n}"));
    check("$string('x')", n.clone(), json!("x"));
    check("$length('Hello World')", n.clone(), json!(11));
    check("$length('日本')", n.clone(), json!(2));
    check("$substring('Hello World', 3)", n.clone(), json!("lo World"));
    check("$substring('Hello World', 3, 5)", n.clone(), json!("lo Wo"));
    check("$substring('Hello World', -4)", n.clone(), json!("orld"));
    check("$substring('Hello World', -4, 2)", n.clone(), json!("or"));
    check("$substringBefore('Hello World', ' ')", n.clone(), json!("Hello"));
    check("$substringAfter('Hello World', ' ')", n.clone(), json!("World"));
    check("$substringAfter('Hello', 'x')", n.clone(), json!("Hello"));
    check("$uppercase('Hello World')", n.clone(), json!("HELLO WORLD"));
    check("$lowercase('Hello World')", n.clone(), json!("hello world"));
    check("$trim(' Hello \\n World ')", n.clone(), json!("Hello World"));
    check("$pad('foo', 5)", n.clone(), json!("foo  "));
    check("$pad('foo', -5, '#')", n.clone(), json!("##foo"));
    check("$formatBase(35, 2) ~> $pad(-8, '0')", n.clone(), json!("00100011"));
    check("$contains('abracadabra', 'bra')", n.clone(), json!(true));
    check("$contains('abracadabra', /a.*a/)", n.clone(), json!(true));
    check("$contains('abracadabra', /ar.*a/)", n.clone(), json!(false));
    check("$contains('Hello World', /wo/i)", n.clone(), json!(true));
    check("$split('so many words', ' ')", n.clone(), json!(["so", "many", "words"]));
    check("$split('so many words', ' ', 2)", n.clone(), json!(["so", "many"]));
    check(
        "$split('too much, punctuation. hard; to read', /[ ,.;]+/)",
        n.clone(),
        json!(["too", "much", "punctuation", "hard", "to", "read"]),
    );
    check("$split('abc', '')", n.clone(), json!(["a", "b", "c"]));
    check("$join(['a', 'b', 'c'])", n.clone(), json!("abc"));
    check("$join(['a', 'b', 'c'], ', ')", n.clone(), json!("a, b, c"));
    check(
        "$match('ababbabbcc', /a(b+)/)",
        n.clone(),
        json!([
            {"match": "ab", "index": 0, "groups": ["b"]},
            {"match": "abb", "index": 2, "groups": ["bb"]},
            {"match": "abb", "index": 5, "groups": ["bb"]}
        ]),
    );
    check("$match('ababbabbcc', /a(b+)/, 1)", n.clone(), json!({"match": "ab", "index": 0, "groups": ["b"]}));
    check("$replace('John Smith and John Jones', 'John', 'Mr')", n.clone(), json!("Mr Smith and Mr Jones"));
    check("$replace('John Smith and John Jones', 'John', 'Mr', 1)", n.clone(), json!("Mr Smith and John Jones"));
    check("$replace('abracadabra', /bra/, '*')", n.clone(), json!("a*cada*"));
    check("$replace('John Smith', /(\\w+)\\s(\\w+)/, '$2, $1')", n.clone(), json!("Smith, John"));
    check("$replace('265USD', /([0-9]+)USD/, '$$$1')", n.clone(), json!("$265"));
    check(
        "$replace('temperature = 68F today', /(\\d+)F/, function($m) { $formatNumber(($number($m.groups[0]) - 32) * 5/9, '0.0') & 'C' })",
        n.clone(),
        json!("temperature = 20.0C today"),
    );
    check("$eval('[1,2,3]')", n.clone(), json!([1, 2, 3]));
    check("$eval('$sum(a)', {'a': [1, 2]})", n.clone(), json!(3));
    check("($x := 5; $eval('$x + a'))", json!({"a": 1}), json!(6));
    check("$eval('$[0]', [7, 8])", n.clone(), json!(7));
    check("$base64encode('myuser:mypass')", n.clone(), json!("bXl1c2VyOm15cGFzcw=="));
    check("$base64decode('bXl1c2VyOm15cGFzcw==')", n.clone(), json!("myuser:mypass"));
    check("$encodeUrlComponent('?x=test')", n.clone(), json!("%3Fx%3Dtest"));
    check(
        "$encodeUrl('https://mozilla.org/?x=шеллы')",
        n.clone(),
        json!("https://mozilla.org/?x=%D1%88%D0%B5%D0%BB%D0%BB%D1%8B"),
    );
    check("$decodeUrlComponent('%3Fx%3Dtest')", n.clone(), json!("?x=test"));
    check(
        "$decodeUrl('https://mozilla.org/?x=%D1%88%D0%B5%D0%BB%D0%BB%D1%8B')",
        n.clone(),
        json!("https://mozilla.org/?x=шеллы"),
    );
    check("$decodeUrl('%3F')", n.clone(), json!("%3F"));
}

#[test]
fn numeric_functions() {
    let n = json!({});
    check("$number('5')", n.clone(), json!(5));
    check("$number('-0.05')", n.clone(), json!(-0.05));
    check("$number('1e2')", n.clone(), json!(100));
    check("$number('0x12')", n.clone(), json!(18));
    check("$number(true)", n.clone(), json!(1));
    check("$abs(-5)", n.clone(), json!(5));
    check("$floor(5.8)", n.clone(), json!(5));
    check("$floor(-5.3)", n.clone(), json!(-6));
    check("$ceil(5.3)", n.clone(), json!(6));
    check("$round(123.456)", n.clone(), json!(123));
    check("$round(123.456, 2)", n.clone(), json!(123.46));
    check("$round(123.456, -1)", n.clone(), json!(120));
    check("$round(11.5)", n.clone(), json!(12));
    check("$round(12.5)", n.clone(), json!(12));
    check("$round(125, -1)", n.clone(), json!(120));
    check("$round(-0.5)", n.clone(), json!(0));
    check("$round(2.675, 2)", n.clone(), json!(2.68));
    check("$power(2, 8)", n.clone(), json!(256));
    check("$power(2, 0.5)", n.clone(), json!(std::f64::consts::SQRT_2));
    check("$sqrt(4)", n.clone(), json!(2));
    check("$random() < 1", n.clone(), json!(true));
    check("$formatNumber(12345.6, '#,###.00')", n.clone(), json!("12,345.60"));
    check("$formatNumber(1234.5678, '00.000e0')", n.clone(), json!("12.346e2"));
    check("$formatNumber(34.555, '#0.00;(#0.00)')", n.clone(), json!("34.56"));
    check("$formatNumber(-34.555, '#0.00;(#0.00)')", n.clone(), json!("(34.56)"));
    check("$formatNumber(0.14, '01%')", n.clone(), json!("14%"));
    check("$formatNumber(0.14, '###pm', {'per-mille': 'pm'})", n.clone(), json!("140pm"));
    check("$formatNumber(1234.5678, '①①.①①①e①', {'zero-digit': '\u{245f}'})", n.clone(), json!("①②.③④⑥e②"));
    check("$formatNumber(-6, '000')", n.clone(), json!("-006"));
    check("$formatNumber(1234567.891, '#,##0.##')", n.clone(), json!("1,234,567.89"));
    check("$formatNumber(0, '0.00')", n.clone(), json!("0.00"));
    check("$formatNumber(12.6, '#0')", n.clone(), json!("13"));
    check("$formatNumber(1234.5678, '0e0')", n.clone(), json!("1e3"));
    check("$formatBase(100, 2)", n.clone(), json!("1100100"));
    check("$formatBase(2555, 16)", n.clone(), json!("9fb"));
    check("$formatBase(-10)", n.clone(), json!("-10"));
}

#[test]
fn integer_pictures() {
    let n = json!({});
    check("$formatInteger(2789, 'w')", n.clone(), json!("two thousand, seven hundred and eighty-nine"));
    check("$formatInteger(1999, 'I')", n.clone(), json!("MCMXCIX"));
    check("$formatInteger(28, 'A')", n.clone(), json!("AB"));
    check("$formatInteger(123, '0000')", n.clone(), json!("0123"));
    check("$formatInteger(1234567, '#,##0')", n.clone(), json!("1,234,567"));
    check("$formatInteger(12, '0;o')", n.clone(), json!("12th"));
    check("$formatInteger(22, '0;o')", n.clone(), json!("22nd"));
    check("$formatInteger(21, 'Ww;o')", n.clone(), json!("Twenty-First"));
    check("$formatInteger(-5, '00')", n.clone(), json!("-05"));
    check("$parseInteger('twelve thousand, four hundred and seventy-six', 'w')", n.clone(), json!(12476));
    check("$parseInteger('MCMXCIX', 'I')", n.clone(), json!(1999));
    check("$parseInteger('AB', 'A')", n.clone(), json!(28));
    check("$parseInteger('1,234,567', '#,##0')", n.clone(), json!(1234567));
    assert_eq!(
        fails("$formatInteger(1, 'Q')", n, "D3130"),
        "Formatting or parsing an integer as a sequence starting with \"Q\" is not supported by this implementation"
    );
}

#[test]
fn aggregation_boolean_array_functions() {
    let n = json!({});
    check("$sum([5, 1, 3, 7, 4])", n.clone(), json!(20));
    check("$sum([])", n.clone(), json!(0));
    check("$sum(5)", n.clone(), json!(5));
    check("$max([5, 1, 3, 7, 4])", n.clone(), json!(7));
    check("$min([5, 1, 3, 7, 4])", n.clone(), json!(1));
    undefined("$max([])", n.clone());
    check("$average([5, 1, 3, 7, 4])", n.clone(), json!(4));
    check("$sum(Account.Order.Product.(Price * Quantity))", orders(), json!(336.36));
    check("$boolean('')", n.clone(), json!(false));
    check("$boolean([0, 1])", n.clone(), json!(true));
    check("$boolean({})", n.clone(), json!(false));
    check("$not(true)", n.clone(), json!(false));
    undefined("$not(nothing)", n.clone());
    check("$exists(nothing)", n.clone(), json!(false));
    check("$exists(0)", n.clone(), json!(true));
    check("$count([1, 2, 3, 1])", n.clone(), json!(4));
    check("$count(nothing)", n.clone(), json!(0));
    check("$count('a')", n.clone(), json!(1));
    check("$append([1, 2, 3], [4, 5, 6])", n.clone(), json!([1, 2, 3, 4, 5, 6]));
    check("$append([1, 2, 3], 4)", n.clone(), json!([1, 2, 3, 4]));
    check("$append('Hello', 'World')", n.clone(), json!(["Hello", "World"]));
    check("$append([1], nothing)", n.clone(), json!([1]));
    check("$sort([3, 1, 2])", n.clone(), json!([1, 2, 3]));
    check("$sort(['b', 'a'])", n.clone(), json!(["a", "b"]));
    check(
        "$sort(Account.Order.Product, function($l, $r) { $l.Price > $r.Price }).`Product Name`",
        orders(),
        json!(["Trilby hat", "Bowler Hat", "Bowler Hat", "Cloak"]),
    );
    check("$reverse(['Hello', 'World'])", n.clone(), json!(["World", "Hello"]));
    check("$count($shuffle([1, 2, 3]))", n.clone(), json!(3));
    check("$sum($shuffle([1, 2, 3]))", n.clone(), json!(6));
    check("$distinct([1, 2, 3, 3, 4, 3, 5])", n.clone(), json!([1, 2, 3, 4, 5]));
    check("$distinct([{'a': 1}, {'a': 1}])", n.clone(), json!([{"a": 1}]));
    check("$zip([1, 2, 3], [4, 5, 6])", n.clone(), json!([[1, 4], [2, 5], [3, 6]]));
    check("$zip([1, 2, 3], [4, 5], [7, 8, 9])", n.clone(), json!([[1, 4, 7], [2, 5, 8]]));
}

#[test]
fn object_and_higher_order_functions() {
    let n = json!({});
    check("$keys({'a': 1, 'b': 2})", n.clone(), json!(["a", "b"]));
    check("$keys([{'a': 1}, {'a': 2, 'c': 3}])", n.clone(), json!(["a", "c"]));
    check("$keys({'a': 1})", n.clone(), json!("a"));
    check("$lookup({'a': 1}, 'a')", n.clone(), json!(1));
    check("$spread({'a': 1, 'b': 2})", n.clone(), json!([{"a": 1}, {"b": 2}]));
    check("$merge([{'a': 1}, {'b': 2}, {'a': 3}])", n.clone(), json!({"a": 3, "b": 2}));
    check("$each({'a': 1, 'b': 2}, function($v, $k) { $k & '=' & $v })", n.clone(), json!(["a=1", "b=2"]));
    check("$type(null)", n.clone(), json!("null"));
    check("$type([])", n.clone(), json!("array"));
    check("$type('')", n.clone(), json!("string"));
    undefined("$type(nothing)", n.clone());
    check("$sift({'a': 1, 'b': 2}, function($v) { $v > 1 })", n.clone(), json!({"b": 2}));
    check("$sift({'ab': 1, 'cd': 2}, function($v, $k) { $k ~> $contains('a') })", n.clone(), json!({"ab": 1}));
    check("$map([1, 2, 3], function($v) { $v * 10 })", n.clone(), json!([10, 20, 30]));
    check("$map([1, 2, 3], function($v, $i) { $i })", n.clone(), json!([0, 1, 2]));
    check("$map([1, 2, 3], function($v, $i, $a) { $count($a) })", n.clone(), json!([3, 3, 3]));
    check("$map([1, 2], $string)", n.clone(), json!(["1", "2"]));
    check("$map(5, function($v) { $v + 1 })", n.clone(), json!(6));
    check("$filter([1, 2, 3, 4], function($v) { $v % 2 = 0 })", n.clone(), json!([2, 4]));
    check("$single([1, 2, 3], function($v) { $v = 2 })", n.clone(), json!(2));
    check("$reduce([1, 2, 3, 4], function($a, $v) { $a + $v })", n.clone(), json!(10));
    check("$reduce([1, 2, 3, 4], function($a, $v) { $a + $v }, 10)", n.clone(), json!(20));
    check("$reduce([1, 2, 3], function($a, $v, $i) { $a + $i })", n.clone(), json!(4));
    check("$lookup(Address, 'City')", address(), json!("Winchester"));
    check("Phone.$type(number)", address(), json!(["string", "string", "string", "string"]));
}

#[test]
fn date_time_functions() {
    let n = json!({});
    check("$fromMillis(1510067557121)", n.clone(), json!("2017-11-07T15:12:37.121Z"));
    check("$fromMillis(0)", n.clone(), json!("1970-01-01T00:00:00.000Z"));
    check("$toMillis('2017-11-07T15:07:54.972Z')", n.clone(), json!(1510067274972i64));
    check("$toMillis('2017-11-07')", n.clone(), json!(1510012800000i64));
    check("$toMillis('2017-11-07T15:07:54+01:00')", n.clone(), json!(1510063674000i64));
    check("$toMillis('2017-11-07T15:07:54.5-0130')", n.clone(), json!(1510072674500i64));
    check("$fromMillis(1510067557121, '[M01]/[D01]/[Y0001] [h#1]:[m01][P]')", n.clone(), json!("11/07/2017 3:12pm"));
    check("$fromMillis(1510067557121, '[H01]:[m01]', '-0500')", n.clone(), json!("10:12"));
    check("$fromMillis(1510067557121, '[FNn], [D1] [MNn] [Y]')", n.clone(), json!("Tuesday, 7 November 2017"));
    check(
        "$fromMillis(1510067557121, '[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01]')",
        n.clone(),
        json!("2017-11-07T15:12:37.121+00:00"),
    );
    check("$toMillis($fromMillis(1510067557121))", n.clone(), json!(1510067557121i64));
    check("$toMillis('07/11/2017 15:12', '[D01]/[M01]/[Y0001] [H01]:[m01]')", n.clone(), json!(1510067520000i64));
    check("$toMillis('20171107', '[Y0001][M01][D01]')", n.clone(), json!(1510012800000i64));
    check("$toMillis('7 November 2017, 3:12pm', '[D1] [MNn] [Y], [h]:[m01][P]')", n.clone(), json!(1510067520000i64));
    check(
        "$toMillis('2017-11-07T16:12:37.121+01:00', '[Y]-[M]-[D]T[H]:[m]:[s].[f][Z]')",
        n.clone(),
        json!(1510067557121i64),
    );
    undefined("$toMillis('2017/11/07', '[Y]-[M]-[D]')", n.clone());
    undefined("$toMillis('-11-07', '[Y]-[M]-[D]')", n.clone());
    undefined("$toMillis('2017-13-07', '[Y]-[M]-[D]')", n.clone());
    let now = run("$now()", None, json!({})).unwrap().unwrap();
    let now = now.as_str().unwrap();
    assert!(now.len() == 24 && now.ends_with('Z'), "{now}");
    check("$millis() > 1500000000000", n.clone(), json!(true));
}

#[test]
fn step_functions_functions() {
    let n = json!({});
    check("$partition([1, 2, 3, 4, 5], 2)", n.clone(), json!([[1, 2], [3, 4], [5]]));
    check("$range(0, 10, 2)", n.clone(), json!([0, 2, 4, 6, 8, 10]));
    check("$range(0, 9, 3)", n.clone(), json!([0, 3, 6, 9]));
    check("$range(5, 1, -2)", n.clone(), json!([5, 3, 1]));
    check(
        "$hash('input data', 'SHA-256')",
        n.clone(),
        json!(
            "b4a697a057313163aebf6bd3f5ad9e6d8b6c1a2ee3a7a7d3e0dea4b3c5c1b8e2"[..0].to_owned()
                + &sha256_hex("input data")
        ),
    );
    check("$hash('abc', 'MD5')", n.clone(), json!("900150983cd24fb0d6963f7d28e17f72"));
    check("$hash('abc', 'SHA-1')", n.clone(), json!("a9993e364706816aba3e25717850c26c9cd0d89d"));
    check("$random(7) = $random(7)", n.clone(), json!(true));
    check("$random(7) < 1", n.clone(), json!(true));
    check("$length($uuid())", n.clone(), json!(36));
    check("$uuid() != $uuid()", n.clone(), json!(true));
    check("$parse('{\"a\": [1, 2]}')", n.clone(), json!({"a": [1, 2]}));
    check("$parse('{\"a\": [1, 2]}').a[1]", n.clone(), json!(2));
    fails("$hash('abc', 'SHA-3')", n.clone(), "D3137");
    fails("$parse('{')", n, "D3137");
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[test]
fn errors_have_jsonata_codes_and_messages() {
    let n = json!({});
    assert_eq!(fails("'a' + 1", n.clone(), "T2001"), "The left side of the \"+\" operator must evaluate to a number");
    assert_eq!(fails("1 * 'a'", n.clone(), "T2002"), "The right side of the \"*\" operator must evaluate to a number");
    assert_eq!(
        fails("1 < 'a'", n.clone(), "T2009"),
        "The values 1 and \"a\" either side of operator \"<\" must be of the same data type"
    );
    fails("{} < 1", n.clone(), "T2010");
    assert_eq!(fails("1/0", n.clone(), "D1001"), "Number out of range: null");
    assert_eq!(fails("$number('abc')", n.clone(), "D3030"), "Unable to cast value to a number: \"abc\"");
    assert_eq!(fails("$foo()", n.clone(), "T1006"), "Attempted to invoke a non-function");
    fails("($f := 1; $f())", n.clone(), "T1006");
    assert_eq!(
        fails("$length(1)", n.clone(), "T0410"),
        "Argument 1 of function \"length\" does not match function signature"
    );
    assert_eq!(
        fails("$substring(1, 2)", n.clone(), "T0411"),
        "Context value is not a compatible type with argument 1 of function \"substring\""
    );
    assert_eq!(
        fails("$sum(['a'])", n.clone(), "T0412"),
        "Argument 1 of function \"sum\" must be an array of \"numbers\""
    );
    assert_eq!(
        fails("$substring('a', 'b')", n.clone(), "T0410"),
        "Argument 2 of function \"substring\" does not match function signature"
    );
    fails("$uppercase('a', 'b')", n.clone(), "T0410");
    fails("$uppercase()", json!(5), "T0411");
    fails("-'a'", n.clone(), "D1002");
    fails("{1: 2}", n.clone(), "T1003");
    fails("{'a': 1, 'a': 2}", n.clone(), "D1009");
    fails("[1..1.5]", n.clone(), "T2004");
    fails("[0..10000001]", n.clone(), "D2014");
    assert_eq!(fails("$error('boom')", n.clone(), "D3137"), "boom");
    assert_eq!(fails("$assert(false, 'bad')", n.clone(), "D3141"), "bad");
    fails("$assert(1 = 2)", n.clone(), "D3141");
    fails("$single([1, 2])", n.clone(), "D3138");
    fails("$single([], function($v){true})", n.clone(), "D3139");
    fails("$sqrt(-1)", n.clone(), "D3060");
    fails("$power(10, 1000)", n.clone(), "D3061");
    fails("$sort([1, 'a'])", n.clone(), "D3070");
    fails("$formatBase(10, 40)", n.clone(), "D3100");
    fails("$toMillis('yesterday')", n.clone(), "D3110");
    fails("$split('a', ' ', -1)", n.clone(), "D3020");
    fails("$replace('a', '', 'b')", n.clone(), "D3010");
    fails("$reduce([1], function($a){$a})", n.clone(), "D3050");
    fails("$decodeUrlComponent('%E0%A4%A')", n.clone(), "D3140");
    fails("'x' ~> 1", n.clone(), "T2006");
    fails("[1, 'a']^($)", n.clone(), "T2007");
    fails("[{}, {}]^($)", n.clone(), "T2008");
    fails("$eval('1 +')", n.clone(), "D3120");
    check("($f := function($n){ $n = 0 ? 0 : 1 + $f($n - 1) }; $f(1000))", n.clone(), json!(1000));
    check(
        "($loop := function($i, $acc){ $i = 0 ? $acc : ($next := $i - 1; $loop($next, $acc + $i)) }; $loop(100000, 0))",
        n.clone(),
        json!(5000050000i64),
    );
    fails("($f := function($x){ $f($x) + 1 }; $f(1))", n.clone(), "U1001");
    let syntax = |expr: &str, code: &str| {
        let e = compile(expr).expect_err(expr);
        assert_eq!(e.code, code, "{expr}: {}", e.message);
        e.message
    };
    // Nesting past what the parser follows fails before the stack runs out (20,000 groups
    // aborted the process); 50 levels parse and evaluate, in a debug build too.
    syntax(&format!("{}1{}", "(".repeat(20_000), ")".repeat(20_000)), "U1001");
    syntax(&format!("{}1{}", "[".repeat(20_000), "]".repeat(20_000)), "U1001");
    check(&format!("{}1{}", "(".repeat(50), ")".repeat(50)), n.clone(), json!(1));
    assert_eq!(syntax("'abc", "S0101"), "String literal must be terminated by a matching quote");
    syntax("`abc", "S0105");
    syntax("/* x", "S0106");
    syntax("1 +", "S0207");
    assert_eq!(syntax("(1", "S0203"), "Expected \")\" before end of expression");
    assert_eq!(syntax("[1 2]", "S0202"), "Expected \"]\", got \"2\"");
    syntax("1 2", "S0201");
    syntax("a.1", "S0213");
    syntax("1 := 2", "S0212");
    assert_eq!(
        syntax("function($a, b){1}", "S0208"),
        "Parameter 2 of function definition must be a variable name (start with $)"
    );
    syntax("a@b", "S0214");
    assert_eq!(syntax("'\\q'", "S0103"), "Unsupported escape sequence: \\\"q\"");
    syntax("'\\u12'", "S0104");
    syntax("'it\\'s'", "S0103");
    syntax("/(/", "S0302");
    syntax("/ab", "S0302");
    syntax("//", "S0301");
    syntax("a{'x': 1}{'y': 2}", "S0210");
}

#[test]
fn endless_tail_recursion_times_out() {
    let expr = compile("($f := function($x){ $f($x) }; $f(1))").unwrap();
    let e = expr.run(None, &Map::new(), 0, 256 << 10, std::time::Duration::from_millis(200)).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("U1001", "Expression evaluation timeout: Check for infinite loop")
    );
}

#[test]
fn expressions_are_reusable_and_shareable() {
    let expr = compile("$x * 2").unwrap();
    let handle = std::thread::spawn(move || {
        let mut b = Map::new();
        b.insert("x".into(), json!(21));
        expr.evaluate(None, &b)
    });
    assert_eq!(handle.join().unwrap().unwrap(), Some(json!(42)));
}

#[test]
fn more_sequences_and_functions() {
    let n = json!({});
    let nested = json!({"a": [{"b": [{"c": 1}, {"c": [2, 3]}]}, {"b": {"c": 4}}]});
    check("a.b.c", nested.clone(), json!([1, 2, 3, 4]));
    check("a.b.c[0]", nested.clone(), json!([1, 2, 4]));
    check("(a.b.c)[0]", nested.clone(), json!(1));
    check("a[1].b.c[]", nested.clone(), json!([4]));
    check("$count(a.b)", nested.clone(), json!(3));
    check("a.*.c", nested.clone(), json!([1, 2, 3, 4]));
    check("$sum(**.c)", nested.clone(), json!(10));
    check("a.b[c = 4].c", nested.clone(), json!(4));
    check("a.b[2 in c].c", nested.clone(), json!([2, 3]));
    undefined("a.b[c in [2, 9]].c", nested.clone());
    check(
        "$string({'a': [1, {'b': 2}]}, true)",
        n.clone(),
        json!("{\n  \"a\": [\n    1,\n    {\n      \"b\": 2\n    }\n  ]\n}"),
    );
    check("$boolean(function(){1})", n.clone(), json!(false));
    check("$boolean([[], 0])", n.clone(), json!(false));
    check("$match('The Cat sat', /(c)(a)t/i)", n.clone(), json!({"match": "Cat", "index": 4, "groups": ["C", "a"]}));
    check("$replace('aaa', 'a', 'b', 2)", n.clone(), json!("bba"));
    check("$replace('2 and 3', /\\d/, function($m){ $string($number($m.match) * 2) })", n.clone(), json!("4 and 6"));
    check("$split('a1b2c', /\\d/)", n.clone(), json!(["a", "b", "c"]));
    check("$contains('ABC', /b/)", n.clone(), json!(false));
    check("($p := $replace(?, 'a', ?); $p('banana', 'o'))", n.clone(), json!("bonono"));
    check("($f := function($a, $b, $c){ $a & $b & $c }; $g := $f(?, 'x', ?); $g('1', '2'))", n.clone(), json!("1x2"));
    check("($inc := function($x){ $x + 1 }; $dbl := function($x){ $x * 2 }; ($inc ~> $dbl)(3))", n.clone(), json!(8));
    check(
        "$sort([{'k': 1, 'v': 'a'}, {'k': 0, 'v': 'b'}, {'k': 1, 'v': 'c'}], function($l, $r){ $l.k > $r.k }).v",
        n.clone(),
        json!(["b", "a", "c"]),
    );
    check("[{'k': 1, 'v': 'a'}, {'k': 0, 'v': 'b'}, {'k': 1, 'v': 'c'}]^(>k).v", n.clone(), json!(["a", "c", "b"]));
    check("[{'k': 'b'}, {'x': 1}, {'k': 'a'}]^(k).k", n.clone(), json!(["a", "b"]));
    check("$spread([{'a': 1}, {'b': 2, 'c': 3}])", n.clone(), json!([{"a": 1}, {"b": 2}, {"c": 3}]));
    undefined("$sift({'a': 1}, function($v){ $v > 5 })", n.clone());
    check("$each({'a': 1}, function($v, $k, $o){ $keys($o) })", n.clone(), json!("a"));
    check("$lookup([{'a': 1}, {'a': [2, 3]}, {'b': 4}], 'a')", n.clone(), json!([1, 2, 3]));
    check("$keys([{'a': 1}, {'b': {'c': 2}}])", n.clone(), json!(["a", "b"]));
    check(
        "$fromMillis(1510067557121, '[Y]-[M]-[D] [H]:[m]:[s] [Z]', '+0530')",
        n.clone(),
        json!("2017-11-7 20:42:37 +05:30"),
    );
    check("$fromMillis(0, '[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01][Z01:01t]')", n.clone(), json!("1970-01-01T00:00:00Z"));
    check("$formatNumber(0.125, '0.0%')", n.clone(), json!("12.5%"));
    check("$formatNumber(1234.5, '#,##0.0#')", n.clone(), json!("1,234.5"));
    check("$formatNumber(5, '000;-000')", n.clone(), json!("005"));
    check("$formatNumber(-5, '000;(000)')", n.clone(), json!("(005)"));
    check("{'a': [1]}.a", n.clone(), json!([1]));
    check("{'a': [1]}.a[]", n.clone(), json!([1]));
    check("[[1]][0]", n.clone(), json!([1]));
    check("$append([], [])", n.clone(), json!([]));
    check("$count([[1, 2], 3])", n.clone(), json!(2));
    check("[1, 2, 3][$ > 1]", n.clone(), json!([2, 3]));
    check("[1, 2, 3][-1]", n.clone(), json!(3));
    check("[1, 2, 3][[0, 2]]", n.clone(), json!([1, 3]));
    fails("{'x': 1} ~> $merge([$, {'y': 2}])", n.clone(), "T0410");
    check("($o := {'x': 1}; $merge([$o, {'y': 2}]))", n.clone(), json!({"x": 1, "y": 2}));
    check("$exists($states)", n.clone(), json!(false));
    check("'abc' & 1.5 & [1, 'x'] & {'a': null}", n.clone(), json!("abc1.5[1,\"x\"]{\"a\":null}"));
    check("2 * (3 + 4) - 10 / 4", n.clone(), json!(11.5));
    check("true and (false or true)", n.clone(), json!(true));
    check("'b' > 'a' and 2 > 1", n.clone(), json!(true));
    check("$average([1, 2]) = 1.5", n.clone(), json!(true));
    check("$not([])", n.clone(), json!(true));
}
