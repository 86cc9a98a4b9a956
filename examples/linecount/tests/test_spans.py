from linecount import spans


def test_a_function_spans_its_lines():
    assert spans("def f(x):\n    y = x\n    return y\n") == [("f", 3, 2)]


def test_the_first_statement_comes_after_the_docstring():
    assert spans('def f():\n    """Doc."""\n    return 1\n') == [("f", 3, 3)]


def test_methods_are_functions_too():
    assert spans("class C:\n    def m(self):\n        pass\n") == [("m", 2, 3)]


def test_the_first_statement_is_the_first_of_several():
    assert spans('def f():\n    """Doc."""\n    x = 1\n    return x\n') == [("f", 4, 3)]
