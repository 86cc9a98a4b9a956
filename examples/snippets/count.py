import sys

def count_to(number):
    for n in range(1, number+1):
        print(n)

def main():
    stop = sys.argv[1]
    count_to(stop)

if __name__ == "__main__":
    main()
