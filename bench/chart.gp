# Draws the benchmark chart from chart.dat, chart-memory.dat and chart-colors.gp (written by
# bench/bench.py). Run in the results directory:
#   gnuplot -e "outfile='chart.png'" ../chart.gp
if (!exists("outfile")) outfile = 'chart.png'
set terminal pngcairo size 1200,1000 font "DejaVu Sans,10" noenhanced
set output outfile
set multiplot layout 2,1 title "geo_import benchmark: median of runs, one machine, one run, same table shape and indexes" font ",12"

set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set key below horizontal maxcols 3
set grid ytics mytics
set xtics nomirror
set logscale y
set format y "%.0s%c"

# chart-colors.gp (from bench.py): how many contender columns, their colours.
load 'chart-colors.gp'

set title "Throughput: features per second (log scale; higher is better)"
set ylabel "features / s"
plot for [i=2:contenders+1] 'chart.dat' using i:xtic(1) title columnheader(i) lc rgb word(colors, i-1)

set title "Backend peak memory, VmHWM in MiB (log scale; lower is better). Outlined: 2.5 x payload, import_geojson's target"
set ylabel "MiB"
set format y "%g"
plot for [i=2:contenders+1] 'chart-memory.dat' using i:xtic(1) title columnheader(i) lc rgb word(colors, i-1), \
     '' using contenders+2 title columnheader(contenders+2) fs empty border rgb "black" lc rgb "black"
unset multiplot
