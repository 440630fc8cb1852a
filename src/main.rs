fn main() {
    println!("mxtriage: under construction");
}
