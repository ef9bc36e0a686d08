"""DynamoDB's PartiQL (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction) through
boto3 and the AWS CLI, and ReturnItemCollectionMetrics on every write of tables with local
secondary indexes."""
import botocore.exceptions
import pytest


@pytest.fixture
def ddb(server):
    return server.client("dynamodb")


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r


def run(ddb, statement, *params, **kwargs):
    if params:
        kwargs["Parameters"] = list(params)
    return ddb.execute_statement(Statement=statement, **kwargs)


def make_music(ddb):
    """`music`: pk (S) and sk (N), a GSI on colour, an LSI on rank."""
    ddb.create_table(
        TableName="music",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "colour", "AttributeType": "S"},
            {"AttributeName": "rank", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "by-colour", "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }],
        LocalSecondaryIndexes=[{
            "IndexName": "by-rank",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "rank", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
        BillingMode="PAY_PER_REQUEST",
    )


def seed(ddb):
    make_music(ddb)
    for i in range(1, 6):
        item = {"pk": {"S": "band"}, "sk": {"N": str(i)}, "rank": {"N": str(10 - i)},
                "title": {"S": f"song {i}"}, "plays": {"N": str(i * 100)},
                "meta": {"M": {"year": {"N": str(2000 + i)}, "tags": {"L": [{"S": "t0"}, {"S": f"t{i}"}]}}}}
        if i % 2:
            item["colour"] = {"S": "red"}
        ddb.put_item(TableName="music", Item=item)
    ddb.put_item(TableName="music", Item={"pk": {"S": "solo"}, "sk": {"N": "1"}, "title": {"S": "alone"},
                                          "colour": {"S": "blue"}, "genres": {"SS": ["jazz", "pop"]}})


def sks(result):
    return [int(i["sk"]["N"]) for i in result["Items"]]


# --- SELECT ----------------------------------------------------------------------------


def test_select_queries_and_scans(ddb):
    seed(ddb)
    assert sks(run(ddb, 'SELECT * FROM "music" WHERE pk = \'band\'')) == [1, 2, 3, 4, 5]
    assert sks(run(ddb, "select * from music where pk = 'band' order by sk desc")) == [5, 4, 3, 2, 1]
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = ? AND sk BETWEEN ? AND ?",
                   {"S": "band"}, {"N": "2"}, {"N": "4"})) == [2, 3, 4]
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'band' AND sk >= 4")) == [4, 5]
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'band' AND sk <> 3 AND plays > 100")) == [2, 4, 5]
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'band' AND (sk < 2 OR sk = 5)")) == [1, 5]
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'band' AND sk IN [1, 3]")) == [1, 3]
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'band' AND NOT sk IN (1, 3)")) == [2, 4, 5]
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'band' AND colour IS MISSING")) == [2, 4]
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'band' AND colour IS NOT MISSING")) == [1, 3, 5]
    assert sks(run(ddb, "SELECT * FROM music WHERE colour IS STRING AND meta IS STRUCT AND plays IS NOT BOOLEAN")) == [1, 3, 5]
    # IN on the partition key reads each partition; ORDER BY then needs the partition key.
    both = run(ddb, "SELECT pk, sk FROM music WHERE pk IN ['solo', 'band'] AND sk <= 2 ORDER BY pk DESC, sk DESC")
    assert [(i["pk"]["S"], int(i["sk"]["N"])) for i in both["Items"]] == [("solo", 1), ("band", 2), ("band", 1)]
    code, message, _ = error_of(lambda: run(ddb, "SELECT * FROM music WHERE pk IN ['solo', 'band'] ORDER BY sk"))
    assert message == "Must have hash key in ORDER BY clause when more than one hash key condition specified in WHERE clause."
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'band' AND attribute_exists(colour) AND sk <= 3")) == [1, 3]
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'band' AND attribute_not_exists(colour)")) == [2, 4]
    assert sks(run(ddb, "SELECT * FROM music WHERE begins_with(title, 'song') AND meta.\"year\" >= 2004")) == [4, 5]
    assert sks(run(ddb, "SELECT * FROM music WHERE contains(meta.tags, 't3')")) == [3]
    assert sks(run(ddb, "SELECT * FROM music WHERE attribute_type(genres, 'SS')")) == [1]
    assert sks(run(ddb, "SELECT * FROM music WHERE contains(genres, 'jazz') OR size(title) = 5")) == [1]
    assert sks(run(ddb, "SELECT * FROM music WHERE meta.tags[1] = 't2'")) == [2]
    # No WHERE: the whole table, partitions in the store's order.
    assert len(run(ddb, "SELECT * FROM music")["Items"]) == 6
    projected = run(ddb, "SELECT title, meta.\"year\", meta.tags[1] FROM music WHERE pk = 'band' AND sk = 2")["Items"]
    assert projected == [{"title": {"S": "song 2"}, "meta": {"M": {"year": {"N": "2002"}, "tags": {"L": [{"S": "t2"}]}}}}]
    assert run(ddb, "SELECT * FROM music WHERE pk = 'nobody'")["Items"] == []
    # A comparison with a value of another type matches nothing (it is not a key error).
    assert run(ddb, "SELECT * FROM music WHERE pk = 1")["Items"] == []
    consumed = run(ddb, "SELECT * FROM music WHERE pk = 'solo'", ReturnConsumedCapacity="TOTAL", ConsistentRead=True)
    assert consumed["ConsumedCapacity"] == {"TableName": "music", "CapacityUnits": 1.0}


def test_select_on_indexes(ddb):
    seed(ddb)
    red = run(ddb, 'SELECT * FROM "music"."by-colour" WHERE colour = \'red\'')["Items"]
    # KEYS_ONLY: the table's and the index's keys.
    assert sorted(int(i["sk"]["N"]) for i in red) == [1, 3, 5]
    assert all(set(i) == {"pk", "sk", "colour"} for i in red)
    ranked = run(ddb, 'SELECT sk, "rank" FROM "music"."by-rank" WHERE pk = \'band\' ORDER BY "rank"')["Items"]
    assert [i["rank"]["N"] for i in ranked] == ["5", "6", "7", "8", "9"]
    code, message, _ = error_of(lambda: run(ddb, 'SELECT * FROM "music"."by-colour" WHERE colour = \'red\'',
                                            ConsistentRead=True))
    assert (code, message) == ("ValidationException",
                               "Strongly consistent read is not supported on Global Secondary Indexes")
    code, message, _ = error_of(lambda: run(ddb, 'SELECT * FROM "music"."nope"'))
    assert (code, message) == ("ValidationException", "The table does not have the specified index: nope")


def test_select_pages_with_next_token(ddb):
    seed(ddb)
    for statement, expected in [
        ("SELECT * FROM music WHERE pk = 'band'", 5),
        ("SELECT * FROM music", 6),
        ("SELECT * FROM music WHERE plays > 0", 5),
        ("SELECT * FROM music WHERE pk IN ['band', 'solo', 'nobody']", 6),
        ("SELECT * FROM music WHERE pk = 'band' OR pk = 'solo' AND title = 'alone'", 6),
    ]:
        seen, token, pages = [], None, 0
        while True:
            kwargs = {"NextToken": token} if token else {}
            page = run(ddb, statement, Limit=2, **kwargs)
            seen += [(i["pk"]["S"], int(i["sk"]["N"])) for i in page["Items"]]
            pages += 1
            token = page.get("NextToken")
            if not token:
                break
        assert len(seen) == expected and len(set(seen)) == expected, statement
        assert pages >= 3
    # An OR of partition-key equalities reads those partitions only, so Limit counts their items.
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'solo' OR pk = 'nobody'", Limit=1)) == [1]
    first = run(ddb, "SELECT * FROM music WHERE pk = 'band'", Limit=2)
    assert first["LastEvaluatedKey"] == {"pk": {"S": "band"}, "sk": {"N": "2"}}
    code, message, _ = error_of(lambda: run(ddb, "SELECT * FROM music WHERE pk = 'solo'", NextToken=first["NextToken"]))
    assert (code, message) == ("ValidationException", "NextToken does not match request")
    code, message, _ = error_of(lambda: run(ddb, "SELECT * FROM music", NextToken="bogus"))
    assert (code, message) == ("ValidationException", "Invalid NextToken")


@pytest.mark.parametrize("statement,message", [
    ("SELECT * FROM music ORDER BY sk", "Must have WHERE clause in the statement when using ORDER BY clause."),
    ("SELECT * FROM music WHERE sk = 1 ORDER BY sk",
     "Must have at least one non-optional hash key condition in WHERE clause when using ORDER BY clause."),
    ("SELECT * FROM music WHERE pk = 'band' ORDER BY title",
     "Variable reference title in ORDER BY clause must be part of the primary key"),
    ("SLECT * FROM music", "Statement wasn't well formed, can't be processed: Expected data manipulation"),
    ("SELECT * FROM music WHERE pk = 'band' garbage",
     "Statement wasn't well formed, can't be processed: Unexpected token after expression"),
    ("SELECT * FROM music WHERE pk = ?", "Number of parameters in request and statement don't match."),
    ("SELECT *, title FROM music", "Other attributes should not be present in the projection when '*' is used."),
    # Some messages point at the token: line, column and length.
    ("SELECT * FROM music WHERE frob(title)", "Unrecognized function: frob at 1:27:4"),
    ("SELECT * FROM music WHERE pk = 'band' AND\n EXISTS(title)", "Unrecognized function: exists at 2:2:6"),
    ("SELECT attribute_exists(title) FROM music", "Unexpected path component at 1:8:16"),
    ("SELECT * FROM music WHERE attribute_exists('title')",
     "Operator or function requires a document path; operator or function: attribute_exists"),
    ("SELECT * FROM music WHERE attribute_exists(title, plays)",
     "Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2"),
    ("UPDATE music SET tags = set_add(genres, <<'x'>>) WHERE pk = 'band' AND sk = 1",
     "The first argument to SET_ADD must equal the assignment value at 1:25:7"),
    ("UPDATE music SET tags = set_add(tags, 'x') WHERE pk = 'band' AND sk = 1",
     "The second argument to SET_ADD must be a value with type SET at 1:33:4"),
    ("UPDATE music SET tags = set_add(tags) WHERE pk = 'band' AND sk = 1",
     "SET_ADD must have exactly two arguments at 1:25:7"),
    ("UPDATE music SET tags = set_add(tags, <<'x', 'x'>>) WHERE pk = 'band' AND sk = 1",
     "One or more parameter values were invalid: Input collection [x, x] contains duplicates."),
    ("SELECT * FROM music WHERE", "Statement wasn't well formed, can't be processed: Unexpected term"),
    ("SELECT * FROM music WHERE pk = 'band' AND",
     "Statement wasn't well formed, can't be processed: Missing right-hand side expression of infix operator"),
    ("DELETE FROM WHERE pk = 'a'", "Statement wasn't well formed, can't be processed: Expected identifier for simple path"),
    ("SELECT * FROM music m WHERE pk = 'band'", "Aliasing is not supported"),
    ("SELECT * FROM music WHERE pk = 'band' /* open", "Statement wasn't well formed, can't be processed: "),
    ("INSERT INTO music VALUE {'pk': 'a', 'sk': 1, 'm': {'x': 1e126}}",
     "Number overflow. Attempting to store a number with magnitude larger than supported range under root.x"),
    ("SELECT * FROM music WHERE title IS FOO", "Statement wasn't well formed, can't be processed: Expected type name"),
    ("UPDATE music SET x = 1", "Where clause does not contain a mandatory equality on all key attributes"),
    ("SELECT * FROM music WHERE pk = 'band' AND title = 'x' OR pk = 'band' AND sk = 2",
     "Overlapping conditions with range keys are not supported in where clause"),
    # PartiQL's reserved words name attributes only when quoted.
    ("SELECT * FROM music WHERE pad = 1", "Statement wasn't well formed, can't be processed: Unexpected keyword"),
    ("SELECT meta.size FROM music", "Statement wasn't well formed, can't be processed: Invalid path dot component"),
    ("EXISTS(SELECT * FROM music WHERE pk = 'band' AND sk = 1 AND plays > 1)",
     "EXISTS can only be used in ExecuteTransaction write requests."),
])
def test_statement_errors(ddb, statement, message):
    make_music(ddb)
    code, got, _ = error_of(lambda: run(ddb, statement))
    assert (code, got) == ("ValidationException", message)


def test_model_constraints(server, ddb):
    make_music(ddb)
    unchecked = server.client("dynamodb", parameter_validation=False)  # boto3 would refuse these itself
    code, message, _ = error_of(lambda: unchecked.execute_statement(Statement="SELECT * FROM music", Parameters=[]))
    assert (code, message) == ("ValidationException", "1 validation error detected: Value '[]' at 'parameters' "
                               "failed to satisfy constraint: Member must have length greater than or equal to 1")
    code, message, _ = error_of(lambda: unchecked.execute_statement(Statement="SELECT * FROM music", Limit=0))
    assert message == ("1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
                       "Member must have value greater than or equal to 1")
    long = "SELECT * FROM music WHERE pk = '" + "x" * 8200 + "'"
    code, message, _ = error_of(lambda: unchecked.execute_statement(Statement=long))
    assert message.endswith("at 'statement' failed to satisfy constraint: Member must have length less than or equal to 8192")


def test_unknown_table(ddb):
    code, message, _ = error_of(lambda: run(ddb, 'SELECT * FROM "missing"'))
    assert (code, message) == ("ResourceNotFoundException", "Requested resource not found")
    code, message, _ = error_of(lambda: run(ddb, "INSERT INTO nowhere VALUE {'pk': 'a'}"))
    assert code == "ResourceNotFoundException"
    # What is wrong with the statement itself is reported before the table is looked up.
    code, message, _ = error_of(lambda: run(ddb, 'SELECT pk FROM "nowhere" WHERE pk = ? AND val < ?', {"S": "x"}, {"BOOL": True}))
    assert (code, message) == ("ValidationException",
                               "Incorrect operand type for operator or function; operator: <, operand type: BOOL")
    code, message, _ = error_of(lambda: run(ddb, "SELECT * FROM \"\" WHERE pk = 'x'"))
    assert (code, message) == ("ValidationException", "Path component cannot be an empty string")


# --- INSERT, UPDATE, DELETE --------------------------------------------------------------


def test_insert_literals_and_duplicates(ddb):
    make_music(ddb)
    assert run(ddb, "INSERT INTO music VALUE {'pk': 'it''s', 'sk': 1, 'n': -1.50, 'ok': true, 'none': null, "
                    "'m': {'l': [1, 'x', <<'a', 'b'>>]}, 'ns': <<3, 4>>, 'b': ?, 'colour': 'green'}",
               {"B": b"\x01\x02"})["Items"] == []
    item = ddb.get_item(TableName="music", Key={"pk": {"S": "it's"}, "sk": {"N": "1"}})["Item"]
    assert item["n"] == {"N": "-1.5"}
    assert item["ok"] == {"BOOL": True} and item["none"] == {"NULL": True}
    assert item["m"] == {"M": {"l": {"L": [{"N": "1"}, {"S": "x"}, {"SS": ["a", "b"]}]}}}
    assert sorted(item["ns"]["NS"]) == ["3", "4"]
    assert item["b"] == {"B": b"\x01\x02"}
    # The write kept the global index in step.
    green = ddb.query(TableName="music", IndexName="by-colour", KeyConditionExpression="colour = :c",
                      ExpressionAttributeValues={":c": {"S": "green"}})["Items"]
    assert [i["pk"]["S"] for i in green] == ["it's"]
    code, message, _ = error_of(lambda: run(ddb, "INSERT INTO music VALUE {'pk': 'it''s', 'sk': 1}"))
    assert (code, message) == ("DuplicateItemException", "Duplicate primary key exists in table")
    with pytest.raises(ddb.exceptions.DuplicateItemException):
        run(ddb, "INSERT INTO music VALUE {'pk': ?, 'sk': ?}", {"S": "it's"}, {"N": "1"})
    code, message, _ = error_of(lambda: run(ddb, "INSERT INTO music VALUE {'pk': 'x'}"))
    assert (code, message) == ("ValidationException", "One or more parameter values were invalid: Missing the key sk in the item")
    code, message, _ = error_of(lambda: run(ddb, "INSERT INTO music VALUE {'pk': 'x', 'sk': 1} RETURNING ALL OLD *"))
    assert (code, message) == ("ValidationException", "RETURNING is not supported in INSERT")
    code, message, _ = error_of(lambda: run(ddb, "INSERT INTO music VALUE {'pk': 'x', 'sk': 1, 's': <<'a', 1>>}"))
    assert message == "Unsupported data type in Bag. DynamoDB only supports either numbers or strings in bags"


def test_update_forms_and_returning(ddb):
    seed(ddb)
    out = run(ddb, "UPDATE music SET plays = plays + 5, meta.\"year\" = 1999, extra = {'a': [1]} "
                   "SET meta.tags = list_append(meta.tags, ['new']) REMOVE colour "
                   "WHERE pk = 'band' AND sk = 1 RETURNING ALL NEW *")
    [new] = out["Items"]
    assert new["plays"] == {"N": "105"} and "colour" not in new
    assert new["meta"] == {"M": {"year": {"N": "1999"}, "tags": {"L": [{"S": "t0"}, {"S": "t1"}, {"S": "new"}]}}}
    assert new["extra"] == {"M": {"a": {"L": [{"N": "1"}]}}}
    # REMOVE colour took the item out of the sparse global index.
    red = ddb.query(TableName="music", IndexName="by-colour", KeyConditionExpression="colour = :c",
                    ExpressionAttributeValues={":c": {"S": "red"}})["Items"]
    assert sorted(i["sk"]["N"] for i in red) == ["3", "5"]
    old = run(ddb, "UPDATE music SET plays = 1 WHERE pk = 'band' AND sk = 2 RETURNING MODIFIED OLD *")["Items"]
    assert old == [{"plays": {"N": "200"}}]
    assert run(ddb, "UPDATE music SET plays = plays - 1 WHERE pk = 'band' AND sk = 2 RETURNING MODIFIED NEW *")["Items"] == [
        {"plays": {"N": "0"}}]
    everything = run(ddb, "UPDATE music SET x = 'y' WHERE pk = 'band' AND sk = 2 RETURNING ALL OLD *")["Items"]
    assert everything[0]["title"] == {"S": "song 2"} and "x" not in everything[0]
    assert run(ddb, "UPDATE music SET x = 'z' WHERE pk = 'band' AND sk = 2")["Items"] == []
    assert run(ddb, "UPDATE music REMOVE absent WHERE pk = 'band' AND sk = 2 RETURNING MODIFIED NEW *")["Items"] == []
    run(ddb, "UPDATE music SET genres = set_add(genres, <<'rock'>>) WHERE pk = 'solo' AND sk = 1")
    run(ddb, "UPDATE music SET genres = set_delete(genres, <<'jazz'>>) WHERE pk = ? AND sk = ?", {"S": "solo"}, {"N": "1"})
    genres = ddb.get_item(TableName="music", Key={"pk": {"S": "solo"}, "sk": {"N": "1"}})["Item"]["genres"]["SS"]
    assert sorted(genres) == ["pop", "rock"]
    # The rest of the WHERE is a condition.
    code, message, r = error_of(lambda: run(ddb, "UPDATE music SET x = 1 WHERE pk = 'band' AND sk = 3 AND plays > 1000",
                                            ReturnValuesOnConditionCheckFailure="ALL_OLD"))
    assert (code, message) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert r["Item"]["plays"] == {"N": "300"}
    run(ddb, "UPDATE music SET x = 1 WHERE pk = 'band' AND sk = 3 AND plays >= 300")
    # UPDATE never creates an item.
    code, message, _ = error_of(lambda: run(ddb, "UPDATE music SET x = 1 WHERE pk = 'band' AND sk = 99"))
    assert (code, message) == ("ConditionalCheckFailedException", "The conditional request failed")
    assert "Item" not in ddb.get_item(TableName="music", Key={"pk": {"S": "band"}, "sk": {"N": "99"}})
    # PartiQL's FROM-first form of the same statement.
    assert run(ddb, "from music where pk = ? and sk = 3 set x = 2 remove meta returning all new *",
               {"S": "band"})["Items"][0]["x"] == {"N": "2"}
    code, message, _ = error_of(lambda: run(ddb, "FROM music WHERE pk = 'band' AND sk = 3 AND x = 7 SET x = 3"))
    assert code == "ConditionalCheckFailedException"
    code, message, _ = error_of(lambda: run(ddb, "UPDATE music SET x = 1 WHERE pk = 'band'"))
    assert (code, message) == ("ValidationException",
                               "Where clause does not contain a mandatory equality on all key attributes")
    code, message, _ = error_of(lambda: run(ddb, "UPDATE music SET x = 1 WHERE pk = 'band' OR sk = 1"))
    assert message == "Where clause does not contain a mandatory equality on all key attributes"
    code, message, _ = error_of(lambda: run(ddb, "UPDATE music SET x = 1 WHERE pk = 'band' AND sk = '1'"))
    assert message == "Key attribute's data type should match its data type in table's schema: Key sk"
    code, message, _ = error_of(lambda: run(ddb, "UPDATE music SET pk = 'b' WHERE pk = 'band' AND sk = 1"))
    assert message == "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"
    code, message, _ = error_of(lambda: run(ddb, "UPDATE music SET plays = plays + 'a' WHERE pk = 'band' AND sk = 1"))
    assert message == "An operand in the update expression has an incorrect data type"


def test_delete(ddb):
    seed(ddb)
    gone = run(ddb, "DELETE FROM music WHERE pk = 'band' AND sk = 1 RETURNING ALL OLD *")["Items"]
    assert gone[0]["title"] == {"S": "song 1"}
    assert "Item" not in ddb.get_item(TableName="music", Key={"pk": {"S": "band"}, "sk": {"N": "1"}})
    # Deleting a missing item succeeds; a condition fails only on an item that exists.
    assert run(ddb, "DELETE FROM music WHERE pk = 'band' AND sk = 1 AND plays = 7")["Items"] == []
    code, message, _ = error_of(lambda: run(ddb, "DELETE FROM music WHERE pk = 'band' AND sk = 2 AND plays = 7"))
    assert code == "ConditionalCheckFailedException"
    run(ddb, "DELETE FROM \"music\" WHERE \"pk\" = 'band' AND \"sk\" = 2 AND plays = 200")
    assert len(run(ddb, "SELECT * FROM music WHERE pk = 'band'")["Items"]) == 3
    code, message, _ = error_of(lambda: run(ddb, "DELETE FROM music WHERE pk = 'band' AND sk = 3 RETURNING ALL NEW *"))
    assert message == "Invalid returning clause: RETURNING ALL NEW *. Only RETURNING ALL OLD * is allowed in DELETE statements."
    code, message, _ = error_of(lambda: run(ddb, "DELETE FROM music WHERE sk = 3"))
    assert message == "Where clause does not contain a mandatory equality on all key attributes"


def test_cli_execute_statement(server, ddb):
    seed(ddb)
    _, out, _ = server.cli("dynamodb", "execute-statement", "--statement",
                           "SELECT title FROM music WHERE pk = ? AND sk = ?",
                           "--parameters", '[{"S": "band"}, {"N": "3"}]')
    assert out["Items"] == [{"title": {"S": "song 3"}}]
    server.cli("dynamodb", "execute-statement", "--statement", "INSERT INTO music VALUE {'pk': 'cli', 'sk': 1}")
    code, _, err = server.cli("dynamodb", "execute-statement", "--statement",
                              "INSERT INTO music VALUE {'pk': 'cli', 'sk': 1}", check=False)
    assert code != 0 and "DuplicateItemException" in err


# --- BatchExecuteStatement ---------------------------------------------------------------


def test_batch_execute_statement(ddb):
    seed(ddb)
    reads = ddb.batch_execute_statement(Statements=[
        {"Statement": "SELECT title FROM music WHERE pk = 'band' AND sk = 1"},
        {"Statement": "SELECT * FROM music WHERE pk = ? AND sk = ?", "Parameters": [{"S": "band"}, {"N": "42"}]},
        {"Statement": "SELECT * FROM music WHERE pk = 'band'"},
        {"Statement": "SELECT * FROM nowhere WHERE pk = 'a'"},
        {"Statement": "SLECT nonsense"},
        {"Statement": "SELECT * FROM music WHERE"},
    ], ReturnConsumedCapacity="TOTAL")
    assert reads["Responses"] == [
        {"TableName": "music", "Item": {"title": {"S": "song 1"}}},
        {"TableName": "music"},
        {"Error": {"Code": "ValidationError", "Message":
                   "Select statements within BatchExecuteStatement must specify the primary key in the where clause."}},
        {"Error": {"Code": "ResourceNotFound", "Message": "Requested resource not found"}},
        {"Error": {"Code": "ValidationError",
                   "Message": "Statement wasn't well formed, can't be processed: Expected data manipulation"}},
        {"Error": {"Code": "ValidationError", "Message": "Statement wasn't well formed, can't be processed: Unexpected term"}},
    ]
    assert reads["ConsumedCapacity"] == [{"TableName": "music", "CapacityUnits": 1.0}]
    writes = ddb.batch_execute_statement(Statements=[
        {"Statement": "INSERT INTO music VALUE {'pk': 'batch', 'sk': 1, 'colour': 'teal'}"},
        {"Statement": "INSERT INTO music VALUE {'pk': 'band', 'sk': 1}"},
        {"Statement": "UPDATE music SET plays = 0 WHERE pk = 'band' AND sk = 2 AND plays = 5",
         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"},
        {"Statement": "UPDATE music SET plays = 0 WHERE pk = 'band' AND sk = 3 RETURNING MODIFIED OLD *"},
        {"Statement": "DELETE FROM music WHERE pk = 'band' AND sk = 4"},
    ])
    assert writes["Responses"] == [
        {"TableName": "music"},
        {"TableName": "music", "Error": {"Code": "DuplicateItem", "Message": "Duplicate primary key exists in table"}},
        {"TableName": "music", "Error": {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}},
        {"TableName": "music", "Item": {"plays": {"N": "300"}}},
        {"TableName": "music"},
    ]
    left = sks(run(ddb, "SELECT * FROM music WHERE pk = 'band'"))
    assert left == [1, 2, 3, 5]
    teal = ddb.query(TableName="music", IndexName="by-colour", KeyConditionExpression="colour = :c",
                     ExpressionAttributeValues={":c": {"S": "teal"}})["Items"]
    assert len(teal) == 1
    code, message, _ = error_of(lambda: ddb.batch_execute_statement(Statements=[
        {"Statement": "SELECT * FROM music WHERE pk = 'band' AND sk = 1"},
        {"Statement": "DELETE FROM music WHERE pk = 'band' AND sk = 1"},
    ]))
    assert (code, message) == ("ValidationException",
                               "BatchExecuteStatement API does not support both read and write operations in the same request.")
    code, message, _ = error_of(lambda: ddb.batch_execute_statement(
        Statements=[{"Statement": "SELECT * FROM music WHERE pk = 'band' AND sk = 1"}] * 26))
    assert code == "ValidationException"
    assert message.endswith("at 'statements' failed to satisfy constraint: Member must have length less than or equal to 25")


# --- ExecuteTransaction ------------------------------------------------------------------


def test_execute_transaction(ddb):
    seed(ddb)

    def transfer(amount, token=None, check_plays=0):
        statements = [
            {"Statement": "UPDATE music SET plays = plays - ? WHERE pk = 'band' AND sk = 1 AND plays >= ?",
             "Parameters": [{"N": str(amount)}, {"N": str(amount)}], "ReturnValuesOnConditionCheckFailure": "ALL_OLD"},
            {"Statement": "UPDATE music SET plays = plays + ? WHERE pk = 'band' AND sk = 2",
             "Parameters": [{"N": str(amount)}]},
            {"Statement": "EXISTS(SELECT * FROM music WHERE pk = 'solo' AND sk = 1 AND title = 'alone')"},
            {"Statement": "INSERT INTO music VALUE {'pk': 'log', 'sk': ?}", "Parameters": [{"N": str(amount + check_plays)}]},
        ]
        kwargs = {"ClientRequestToken": token} if token else {}
        return ddb.execute_transaction(TransactStatements=statements, **kwargs)

    transfer(60, token="tx-1")
    transfer(60, token="tx-1")  # the same request again: answered, not applied twice
    plays = ddb.execute_transaction(TransactStatements=[
        {"Statement": "SELECT plays FROM music WHERE pk = 'band' AND sk = 1"},
        {"Statement": "SELECT plays FROM music WHERE pk = 'band' AND sk = 2"},
        {"Statement": "SELECT plays FROM music WHERE pk = 'band' AND sk = 77"},
    ])["Responses"]
    assert plays == [{"Item": {"plays": {"N": "40"}}}, {"Item": {"plays": {"N": "260"}}}, {}]
    code, message, r = error_of(lambda: transfer(60))
    assert code == "TransactionCanceledException"
    assert message == ("Transaction cancelled, please refer cancellation reasons for specific reasons "
                       "[ConditionalCheckFailed, None, None, DuplicateItem]")
    assert r["CancellationReasons"][0]["Item"]["plays"] == {"N": "40"}
    assert r["CancellationReasons"][3] == {"Code": "DuplicateItem", "Message": "Duplicate primary key exists in table"}
    assert ddb.get_item(TableName="music", Key={"pk": {"S": "band"}, "sk": {"N": "2"}})["Item"]["plays"] == {"N": "260"}
    code, message, _ = error_of(lambda: transfer(1, token="tx-1"))
    assert code == "IdempotentParameterMismatchException"
    # A failed EXISTS cancels; a DELETE of a missing item does not.
    code, _, r = error_of(lambda: ddb.execute_transaction(TransactStatements=[
        {"Statement": "DELETE FROM music WHERE pk = 'band' AND sk = 42"},
        {"Statement": "EXISTS(SELECT * FROM music WHERE pk = 'solo' AND sk = 1 AND title = 'crowd')"},
    ]))
    assert [c["Code"] for c in r["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    ddb.execute_transaction(TransactStatements=[
        {"Statement": "DELETE FROM music WHERE pk = 'band' AND sk = 42"},
        {"Statement": "DELETE FROM music WHERE pk = 'band' AND sk = 5"},
    ])
    assert sks(run(ddb, "SELECT * FROM music WHERE pk = 'band'")) == [1, 2, 3, 4]
    code, message, _ = error_of(lambda: ddb.execute_transaction(TransactStatements=[
        {"Statement": "SELECT * FROM music WHERE pk = 'band' AND sk = 1"},
        {"Statement": "DELETE FROM music WHERE pk = 'band' AND sk = 1"},
    ]))
    assert (code, message) == ("ValidationException",
                               "ExecuteTransaction API does not support both read and write operations in the same request.")
    code, message, _ = error_of(lambda: ddb.execute_transaction(TransactStatements=[
        {"Statement": "SELECT * FROM music WHERE pk = 'band'"}]))
    assert message == ("Validation failed in TransactStatements[0]: "
                       "Select statements within ExecuteTransaction must specify the primary key in the where clause.")
    code, message, _ = error_of(lambda: ddb.execute_transaction(TransactStatements=[
        {"Statement": "UPDATE music SET a = 1 WHERE pk = 'band' AND sk = 1"},
        {"Statement": "EXISTS(SELECT * FROM music WHERE pk = 'band' AND sk = 2)"}]))
    assert message == ("Validation failed in TransactStatements[1]: "
                       "EXISTS() must contain a single item read with additional condition")
    code, message, _ = error_of(lambda: ddb.execute_transaction(TransactStatements=[
        {"Statement": "UPDATE music SET a = 1 WHERE pk = 'band' AND sk = 1"},
        {"Statement": "DELETE FROM music WHERE pk = 'band' AND sk = 1"},
    ]))
    assert message == "Transaction request cannot include multiple operations on one item"
    code, message, _ = error_of(lambda: ddb.execute_transaction(TransactStatements=[
        {"Statement": "INSERT INTO music VALUE {'pk': 'z', 'sk': 1}"}] * 101))
    assert message.endswith("Member must have length less than or equal to 100")


# --- ReturnItemCollectionMetrics ---------------------------------------------------------


def test_return_item_collection_metrics(ddb):
    make_music(ddb)
    metrics = {"ItemCollectionKey": {"pk": {"S": "band"}}, "SizeEstimateRangeGB": [0.0, 1.0]}
    item = {"pk": {"S": "band"}, "sk": {"N": "1"}, "rank": {"N": "1"}}
    assert ddb.put_item(TableName="music", Item=item, ReturnItemCollectionMetrics="SIZE")["ItemCollectionMetrics"] == metrics
    assert ddb.update_item(TableName="music", Key={"pk": {"S": "band"}, "sk": {"N": "1"}}, UpdateExpression="SET a = :a",
                           ExpressionAttributeValues={":a": {"S": "x"}},
                           ReturnItemCollectionMetrics="SIZE")["ItemCollectionMetrics"] == metrics
    assert "ItemCollectionMetrics" not in ddb.put_item(TableName="music", Item=item)
    batch = ddb.batch_write_item(RequestItems={"music": [
        {"PutRequest": {"Item": {"pk": {"S": "band"}, "sk": {"N": "2"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "band"}, "sk": {"N": "3"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "solo"}, "sk": {"N": "1"}}}},
    ]}, ReturnItemCollectionMetrics="SIZE")
    assert batch["ItemCollectionMetrics"] == {"music": [
        metrics, {"ItemCollectionKey": {"pk": {"S": "solo"}}, "SizeEstimateRangeGB": [0.0, 1.0]}]}
    tx = ddb.transact_write_items(TransactItems=[
        {"Delete": {"TableName": "music", "Key": {"pk": {"S": "band"}, "sk": {"N": "2"}}}},
        {"ConditionCheck": {"TableName": "music", "Key": {"pk": {"S": "solo"}, "sk": {"N": "1"}},
                            "ConditionExpression": "attribute_exists(pk)"}},
    ], ReturnItemCollectionMetrics="SIZE")
    assert tx["ItemCollectionMetrics"] == {"music": [metrics]}
    assert ddb.delete_item(TableName="music", Key={"pk": {"S": "band"}, "sk": {"N": "1"}},
                           ReturnItemCollectionMetrics="SIZE")["ItemCollectionMetrics"] == metrics
    # Tables without local secondary indexes have no item collections to report.
    ddb.create_table(TableName="plain", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
    plain = ddb.batch_write_item(RequestItems={"plain": [{"PutRequest": {"Item": {"pk": {"S": "a"}}}}]},
                                 ReturnItemCollectionMetrics="SIZE")
    assert "ItemCollectionMetrics" not in plain
