import unittest

from calc import clamp, mean


class TestCalc(unittest.TestCase):
    def test_clamp_low(self):
        self.assertEqual(clamp(-5, 0, 10), 0)

    def test_clamp_inside(self):
        self.assertEqual(clamp(5, 0, 10), 5)

    def test_clamp_high(self):
        self.assertEqual(clamp(15, 0, 10), 10)

    def test_empty_range(self):
        with self.assertRaises(ValueError):
            clamp(1, 5, 0)


class TestMean(unittest.TestCase):
    def test_mean(self):
        self.assertEqual(mean([1, 2, 3]), 2)

    def test_mean_of_nothing(self):
        with self.assertRaises(ValueError):
            mean([])


if __name__ == "__main__":
    unittest.main()
