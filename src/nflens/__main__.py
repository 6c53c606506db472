from nflens.cli.main import main

main()
