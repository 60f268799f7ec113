// The editor model library: its parts are the other files in this folder (see gui/CMakeLists.txt).
