from onnxprof.cli.main import main

main()
